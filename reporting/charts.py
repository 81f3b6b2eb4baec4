"""Charts as PNG or SVG: a lesion's size over time and a patient's timeline of lesions, drawn
for the pages (`web.charts` caches and serves them) and for the printable report.

matplotlib through `Figure` objects only (Agg), never pyplot's global state. STYLE is part of
every cached chart's key: bump it when the drawing changes.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any, cast

from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.dates import date2num as _date2num
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from reporting.words import code_label, lesion_caption
from tracker.models import Lesion, Observation, Patient
from tracker.queries.stages import PENDING, observation_stage, open_alerts_of
from tracker.vocabulary import SEVERITY_RANK, Severity, Stage

STYLE = "6"  # bump when the drawing changes, so caches and ETags move on
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}

STAGE_COLORS: dict[str, str] = {
    Stage.PRECALCIFIC.value: "#d9f0d3",
    Stage.FORMATIVE.value: "#fdd49e",
    Stage.RESTING.value: "#c6dbef",
    Stage.RESORPTIVE.value: "#fcae91",
    Stage.POSTCALCIFIC.value: "#c7e9c0",
    Stage.HO_EARLY.value: "#fff3a3",
    Stage.HO_INTERMEDIATE.value: "#fdae6b",
    Stage.HO_MATURE.value: "#9ecae1",
    Stage.PROGRESSING.value: "#fb9a99",
    Stage.STABLE.value: "#dadaeb",
    Stage.REGRESSING.value: "#b8e186",
    Stage.RESOLVED.value: "#e0e0e0",
    PENDING: "#f0f0f0",
}
SEVERITY_COLORS = {"urgent": "#b42318", "warning": "#c4650a", "info": "#2f6fbf"}
TREATMENT_SHORT = {"lavage": "Lavage", "eswt": "ESWT", "injection": "Injection",
                   "surgery": "Surgery", "radiotherapy": "Radiotherapy", "nsaid": "NSAID"}
MODALITY_MARKERS = {"XR": "o", "CT": "s", "MR": "D", "US": "^"}
MR_NOT_SEEN_MARKER = "$?$"  # an MR that did not show the deposit: no size, no resolution
INK = "#1f2933"
TREATMENT_COLOR = "#6a4fb3"
date2num = cast(Callable[[date], float], _date2num)
MUTED = "#6b7785"
TODAY = INK  # dotted: neither the treatments' dashed purple nor a stage colour


# --------------------------------------------------------------------------- drawing helpers

_render_lock = threading.Lock()  # matplotlib's font cache and text layout are not thread-safe


def _save(fig: Figure, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "svg":
        fig.savefig(buf, format="svg", metadata={"Date": None})
    else:
        fig.savefig(buf, format="png", dpi=120, metadata={"Software": None})
    return buf.getvalue()


def _dates_axis(ax: Any) -> None:
    locator = cast(Any, AutoDateLocator)(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(cast(Any, ConciseDateFormatter)(locator))


def _style(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#c5ccd3")
    ax.tick_params(colors=INK, labelsize=9)


def cross_modality(observations: Sequence[Observation]) -> set[int]:
    """Ids of measured observations taken on another modality than the previous measurement:
    their sizes are not directly comparable (vocabulary.md, modality)."""
    flagged: set[int] = set()
    previous: str | None = None
    for o in observations:
        if o.visible and o.size1_mm is not None:
            if previous is not None and o.modality != previous:
                flagged.add(o.id)
            previous = o.modality
    return flagged


def _span_end(dates: Sequence[date], i: int, pad: timedelta) -> date:
    return dates[i + 1] if i + 1 < len(dates) else dates[i] + pad


# --------------------------------------------------------------------------- lesion chart


# A phone shows a chart at about 360 CSS px: the wide figure's 8-9 pt text would shrink to
# 3-4 px there, so phones get a figure half as wide (same text size in points) with its legend
# below the axes.
WIDE_INCHES, NARROW_INCHES = 10.4, 5.0


def _legend(ax: Any, handles: list[Any], narrow: bool) -> None:
    if narrow:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2,
                  frameon=False, fontsize=8)
    else:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                  fontsize=8)


def render_lesion(lesion: Lesion, fmt: str, today: date, *, narrow: bool = False) -> bytes:
    """Longest diameter over time, stage bands behind, marker shape by modality."""
    with _render_lock:
        return _save(_lesion_figure(lesion, today, narrow), fmt)


def _today_line(ax: Any, today: date, handles: list[Any]) -> None:
    """Where "now" is on the time axis (a follow-up due or overdue reads at a glance)."""
    left, right = ax.get_xlim()
    if left <= date2num(today) <= right:
        ax.axvline(date2num(today), color=TODAY, lw=1.2, ls=":", zorder=1)
        handles.append(Line2D([], [], color=TODAY, lw=1.2, ls=":", label="Today"))


def _lesion_figure(lesion: Lesion, today: date, narrow: bool = False) -> Figure:
    fig = Figure(figsize=(NARROW_INCHES, 5.6) if narrow else (WIDE_INCHES, 3.8),
                 layout="constrained")
    ax = fig.add_subplot()
    _style(ax)
    obs = list(lesion.observations)
    current = lesion.assessment_current
    flagged = cross_modality(obs)
    dates = [o.date for o in obs]
    sizes = [o.size1_mm for o in obs if o.size1_mm is not None]
    top = max(sizes, default=10.0) * 1.25 + 1
    pad = timedelta(days=max(30, ((dates[-1] - dates[0]).days // 12) if dates else 30))
    # the axis starts at the event that began an HO (or post-injection) lesion, when it has one
    event = [lesion.event_date] if lesion.event_date is not None else []
    dates_shown = sorted([*event, *dates])
    stages_seen: dict[str, None] = {}
    for i, o in enumerate(obs):
        st = observation_stage(o, current)
        stages_seen[st] = None
        ax.axvspan(date2num(o.date), date2num(_span_end(dates, i, pad)),
                   color=STAGE_COLORS.get(st, "#eeeeee"), alpha=0.75, lw=0, zorder=0)
    measured = [(o.date, o.size1_mm) for o in obs if o.visible and o.size1_mm is not None]
    if measured:
        ax.plot([date2num(d) for d, _ in measured], [s for _, s in measured],
                color=INK, lw=1.4, zorder=2)
    last_size: float | None = None
    for o in obs:
        x = date2num(o.date)
        if not o.visible and o.modality == "MR":
            # MR is insensitive to calcium: "not seen" says nothing of the size, so it is a
            # marker at the last size seen (not at 0 mm, which would read as resolution)
            ax.scatter([x], [last_size if last_size is not None else top / 2],
                       marker=MR_NOT_SEEN_MARKER, s=70, facecolor="white", edgecolor=MUTED,
                       linewidths=1.4, linestyle="--", zorder=5)
            continue
        if not o.visible:  # on the axis, drawn whole (not clipped by it)
            ax.scatter([x], [0], marker="x", s=60, color=MUTED, zorder=5, linewidths=1.6,
                       clip_on=False)
            continue
        size = o.size1_mm or 0.0
        last_size = size
        ax.scatter([x], [size], marker=MODALITY_MARKERS.get(o.modality, "o"), s=58,
                   facecolor="white", edgecolor=INK, linewidths=1.6, zorder=4)
        if o.id in flagged:
            ax.scatter([x], [size], marker="o", s=260, facecolor="none",
                       edgecolor=SEVERITY_COLORS["warning"], linewidths=1.4, linestyle="--",
                       zorder=3)
    ax.set_ylim(0, top)
    treated = _mark_treatments(ax, lesion, top)
    if dates:
        shown = sorted([*dates_shown, *(t.date for t in lesion.treatments)])
        ax.set_xlim(date2num(shown[0] - pad / 2),
                    date2num(max(shown[-1] + pad, min(today + pad / 2, shown[-1] + pad * 4))))
    ax.set_ylabel("Longest diameter (mm)", color=INK, fontsize=9)
    _dates_axis(ax)
    marks: list[Any] = []
    if lesion.event_date is not None:
        ax.axvline(date2num(lesion.event_date), color=INK, lw=1, ls="--", zorder=1)
        marks.append(Line2D([], [], color=INK, lw=1, ls="--", label=f"Event {lesion.event_date}"))
    _today_line(ax, today, marks)
    handles: list[Any] = [
        Line2D([], [], marker=MODALITY_MARKERS[m], ls="", markerfacecolor="white",
               markeredgecolor=INK, label=code_label(m))
        for m in dict.fromkeys(o.modality for o in obs)
    ]
    if any(not o.visible and o.modality != "MR" for o in obs):
        handles.append(Line2D([], [], marker="x", ls="", color=MUTED, label="Not seen"))
    if any(not o.visible and o.modality == "MR" for o in obs):
        handles.append(Line2D([], [], marker=MR_NOT_SEEN_MARKER, ls="", markerfacecolor="white",
                              markeredgecolor=MUTED, label="Not seen on MR (insensitive)"))
    if flagged:
        handles.append(Line2D([], [], marker="o", ls="", markerfacecolor="none", markersize=11,
                              markeredgecolor=SEVERITY_COLORS["warning"],
                              label="Other modality than previous"))
    if treated:
        handles.append(Line2D([], [], color=TREATMENT_COLOR, ls="--", lw=1.2, marker="^",
                              markersize=6, label="Treatment"))
    handles += [Patch(color=STAGE_COLORS.get(s, "#eeeeee"), label=code_label(s))
                for s in stages_seen]
    handles += marks
    _legend(ax, handles, narrow)
    return fig


def _mark_treatments(ax: Any, lesion: Lesion, top: float) -> bool:
    """A dashed line per treatment date, a triangle on the time axis and the kinds above it
    (several on one day share the line)."""
    by_day: dict[date, list[str]] = {}
    for t in lesion.treatments:
        by_day.setdefault(t.date, []).append(t.kind)
    for day, kinds in by_day.items():
        x = date2num(day)
        ax.axvline(x, color=TREATMENT_COLOR, ls="--", lw=1.2, zorder=1)
        ax.scatter([x], [0], marker="^", s=70, color=TREATMENT_COLOR, zorder=5, clip_on=False)
        ax.annotate(" + ".join(TREATMENT_SHORT.get(k, k) for k in kinds), (x, top),
                    xytext=(3, -3), textcoords="offset points", ha="left", va="top",
                    fontsize=7.5, color=TREATMENT_COLOR, rotation=90)
    return bool(by_day)


# --------------------------------------------------------------------------- patient timeline


def render_timeline(patient: Patient, fmt: str, today: date, *, narrow: bool = False) -> bytes:
    """Every lesion on one time axis: a swimlane per lesion coloured by stage, a marker per
    visit by modality, alert markers by severity and the next follow-up."""
    with _render_lock:
        return _save(_timeline_figure(patient, today, narrow), fmt)


def _timeline_figure(patient: Patient, today: date, narrow: bool = False) -> Figure:
    lesions = list(patient.lesions)
    lanes = 0.62 * max(1, len(lesions))
    fig = Figure(figsize=(NARROW_INCHES, 2.6 + lanes) if narrow else (WIDE_INCHES, 1.1 + lanes),
                 layout="constrained")
    ax = fig.add_subplot()
    _style(ax)
    ax.spines["left"].set_visible(False)
    all_dates = [o.date for le in lesions for o in le.observations]
    all_dates += [t.date for le in lesions for t in le.treatments]
    all_dates += [le.next_follow_up for le in lesions if le.next_follow_up]
    all_dates += [today]
    first = min(all_dates)
    last = max(all_dates, default=first)
    pad = timedelta(days=max(20, (last - first).days // 25))
    stages_seen: dict[str, None] = {}
    severities: dict[str, None] = {}
    modalities: dict[str, None] = {}
    treated = False
    for row, lesion in enumerate(lesions):
        y = len(lesions) - 1 - row
        current = lesion.assessment_current
        obs = list(lesion.observations)
        dates = [o.date for o in obs]
        for i, o in enumerate(obs):
            st = observation_stage(o, current)
            stages_seen[st] = None
            end = _span_end(dates, i, pad)
            ax.broken_barh([(date2num(o.date), date2num(end) - date2num(o.date))],
                           (y - 0.28, 0.56), facecolors=STAGE_COLORS.get(st, "#eeeeee"),
                           edgecolors="white", linewidth=1)
        for o in obs:
            modalities[o.modality] = None
            if o.visible:
                ax.scatter([date2num(o.date)], [y], marker=MODALITY_MARKERS.get(o.modality, "o"),
                           s=44, facecolor="white", edgecolor=INK, linewidths=1.3, zorder=4)
            else:
                ax.scatter([date2num(o.date)], [y], marker="x", s=44, color=MUTED, zorder=4)
        for t in lesion.treatments:
            treated = True
            ax.scatter([date2num(t.date)], [y - 0.36], marker="^", s=50, zorder=5,
                       color=TREATMENT_COLOR)
        # most severe drawn last, so it is the marker on top when several share a date
        for alert in reversed(open_alerts_of(lesion)):
            severities[alert.severity] = None
            ax.scatter([date2num(alert.since)], [y + 0.36], marker="v", s=70,
                       zorder=8 - SEVERITY_RANK[Severity(alert.severity)],
                       color=SEVERITY_COLORS.get(alert.severity, INK))
        if lesion.next_follow_up and dates:
            ax.plot([date2num(dates[-1] + pad), date2num(lesion.next_follow_up)], [y, y],
                    ls=":", color=MUTED, lw=1)
            ax.scatter([date2num(lesion.next_follow_up)], [y], marker="|", s=160, color=INK,
                       zorder=4)
    ax.set_yticks(range(len(lesions)))
    ax.set_yticklabels([lesion_caption(le) for le in reversed(lesions)], fontsize=9, color=INK)
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(-0.7, len(lesions) - 0.3 + 0.25)
    ax.set_xlim(date2num(first - pad), date2num(last + pad * 2))
    ax.grid(axis="x", color="#e6e9ed", lw=0.8)
    ax.set_axisbelow(True)
    _dates_axis(ax)
    handles: list[Any] = [Patch(color=STAGE_COLORS.get(s, "#eeeeee"), label=code_label(s))
                          for s in stages_seen]
    handles += [Line2D([], [], marker=MODALITY_MARKERS.get(m, "o"), ls="",
                       markerfacecolor="white", markeredgecolor=INK, label=code_label(m))
                for m in modalities]
    handles += [Line2D([], [], marker="v", ls="", color=SEVERITY_COLORS.get(s, INK),
                       label=f"Alert: {s}") for s in severities]
    if treated:
        handles.append(Line2D([], [], marker="^", ls="", color=TREATMENT_COLOR,
                              label="Treatment"))
    if any(le.next_follow_up for le in lesions):
        handles.append(Line2D([], [], marker="|", ls="", color=INK, markersize=10,
                              label="Next follow-up"))
    _today_line(ax, today, handles)
    _legend(ax, handles, narrow)
    return fig


def stage_css() -> str:
    """Badge colours for the pages, from the palette the charts use (one source)."""
    return "\n".join(
        f".stage-{code} {{ background: {color}; }}" for code, color in STAGE_COLORS.items()
    ) + "\n"
