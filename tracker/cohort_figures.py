"""The cohort charts (matplotlib, drawn from grouped rows, so their cost does not grow with the
number of lesions): Kaplan–Meier curves with their 95 % bands and the number at risk, and the
waterfall of best responses. What is estimable and how groups read is `tracker.cohort`'s."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any, Literal

from tracker.cohort import (
    DEFAULT_BY,
    MIN_AT_RISK_DRAWN,
    MIN_EVENTS,
    MIN_LESIONS,
    NO_SPLIT,
    TOO_FEW,
    Tally,
    fit,
    group_label,
    kaplan_meier,
    split,
)
from tracker.vocabulary import label


def _figure(height: float = 5.0, layout: Literal["constrained"] | None = "constrained",
            width: float = 9) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout=layout)


def _drawn_until(kmf: Any) -> float:
    """The last time with at least `MIN_AT_RISK_DRAWN` lesions at risk; 0 (the curve's start
    only, its legend entry kept) when it never had as many."""
    table = kmf.event_table
    enough = table.index[table["at_risk"] >= MIN_AT_RISK_DRAWN]
    return float(enough[-1]) if len(enough) else 0.0


def km_figure(items: Sequence[Tally], by: str = DEFAULT_BY) -> Any:
    """The curves with their 95 % bands and the number at risk under the plot; a group too
    small to estimate is drawn dashed in its own colour, without a band, and says so in the
    legend; every curve stops where fewer than `MIN_AT_RISK_DRAWN` lesions are at risk."""
    from lifelines.plotting import add_at_risk_counts

    groups = split(items, by)
    curves = {c.group: c for c in kaplan_meier(items, by)}
    rows = len(groups)
    fig = _figure(4.4 + 0.2 * rows, layout=None, width=11)
    ax = fig.add_subplot()
    fitters = []
    for name, members in groups:
        curve = curves[name]
        kmf = fit(members, f"{short(curve.label)} (n={curve.n})")
        drawn = slice(0, _drawn_until(kmf))  # the README's promise: no tail of a few lesions
        if curve.estimable:
            kmf.plot_survival_function(ax=ax, ci_show=True, ci_alpha=0.18, loc=drawn)
        else:  # its own colour (several may be too few), dashed, no band
            kmf.plot_survival_function(ax=ax, ci_show=False, linestyle="--", linewidth=1.2,
                                       loc=drawn)
        fitters.append(kmf)
    ax.set_xlabel("days from first visible observation"
                  f" (each curve drawn while {MIN_AT_RISK_DRAWN} or more are at risk)")
    ax.set_ylabel("probability not yet resolved")
    ax.set_ylim(0, 1.05)
    split_by = {"family": "entity family", NO_SPLIT: ""}.get(by, label(by))
    ax.set_title("Time to resolution" + (f" by {split_by}" if split_by else ""))
    small = [c for c in curves.values() if not c.estimable]
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False,
              title_fontsize="small",
              title=(f"shaded: 95 % CI\ndashed: {TOO_FEW}\n(< {MIN_LESIONS} lesions "
                     f"or < {MIN_EVENTS} resolved)") if small else "shaded: 95 % CI")
    if fitters:
        add_at_risk_counts(*fitters, ax=ax, fig=fig, rows_to_show=["At risk"])
    # room for the at-risk table under the axes and its row labels on the left
    fig.subplots_adjust(left=0.3, right=0.7, top=1 - 0.5 / fig.get_figheight(),
                        bottom=(0.8 + 0.19 * rows) / fig.get_figheight())
    return fig


def short(text: str, width: int = 26) -> str:
    """A label short enough for a legend or the at-risk table."""
    return text if len(text) <= width else text[: width - 1] + "…"


def waterfall_figure(bins: Sequence[tuple[str, int, int]]) -> Any:
    """Best % change from baseline, largest growth left, coloured by entity: one bar per
    whole percent and entity, as wide as its lesions (the shape of a bar per lesion)."""
    from matplotlib import colormaps
    from matplotlib.patches import Patch

    fig = _figure()
    ax = fig.add_subplot()
    ordered = sorted(bins, key=lambda b: (-b[1], b[0]))
    entities = sorted({b[0] for b in ordered})
    palette = colormaps["tab20"]
    colour = {name: palette(n % 20) for n, name in enumerate(entities)}
    lefts, total = [], 0
    for _, _, n in ordered:
        lefts.append(total)
        total += n
    ax.bar(lefts, [b[1] for b in ordered], width=[b[2] for b in ordered], align="edge",
           color=[colour[b[0]] for b in ordered], linewidth=0)
    handles = [Patch(color=colour[name], label=short(group_label("entity", name), 40))
               for name in entities]
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlim(0, max(total, 1))
    ax.set_ylabel("best change of longest diameter from baseline (%)")
    ax.set_xlabel(f"lesions (n={total})")
    ax.set_xticks([])
    ax.set_title("Best response per lesion")
    if handles:
        ax.legend(handles=handles, loc="lower left", fontsize="small")
    return fig


def figure_bytes(fig: Any, fmt: str) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format=fmt, dpi=110)
    return out.getvalue()
