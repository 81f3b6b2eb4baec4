"""The cohort page's prognosis figures, drawn from a stored fit (matplotlib `Figure`, Agg, no
pyplot state, like `tracker.cohort`'s): effects with their 95 % CIs (forest plot, log scale,
time ratio 1 marked) and calibration at the fit's horizon (mean predicted probability of
resolution by risk group against the Kaplan–Meier estimate with its CI)."""

from __future__ import annotations

from typing import Any

from tracker.prognosis.model import Fit

TICKS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0)


def _figure(width: float, height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def forest_figure(fit: Fit) -> Any:
    """One row per effect: the time ratio and its 95 % CI; < 1 resolves faster."""
    effects = list(fit.effects)
    fig = _figure(8, 1.2 + 0.42 * max(len(effects), 1))
    ax = fig.add_subplot()
    if not effects:
        ax.text(0.5, 0.5, "no effect estimated", ha="center", va="center")
        ax.set_axis_off()
        return fig
    ys = list(range(len(effects)))[::-1]
    for y, e in zip(ys, effects, strict=True):
        ax.plot([e.ci_lower, e.ci_upper], [y, y], color="#1f4e79", linewidth=2)
        ax.plot([e.time_ratio], [y], marker="s", color="#1f4e79", markersize=7)
    ax.axvline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.set_xscale("log")
    low = min(e.ci_lower for e in effects)
    high = max(e.ci_upper for e in effects)
    left, right = min(low, 0.9) / 1.2, max(high, 1.1) * 1.2
    ax.set_xlim(left, right)
    ticks = [t for t in TICKS if left <= t <= right]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_yticks(ys, [f"{e.label}\n{e.n} lesions, {e.events} resolutions" for e in effects],
                  fontsize="small")
    ax.set_ylim(-0.7, len(effects) - 0.3)
    ax.set_xlabel("time ratio with 95 % CI (< 1: resolves faster; log scale)")
    ax.set_title(f"{fit.family}: effects on time to resolution")
    return fig


def calibration_figure(fit: Fit) -> Any:
    """Predicted against observed (Kaplan–Meier) resolution by the horizon, per risk group."""
    fig = _figure(5.5, 5.0)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--", label="perfect")
    groups = [g for g in fit.calibration if g.observed is not None]
    for g in groups:
        assert g.observed is not None
        low = g.observed_ci_lower if g.observed_ci_lower is not None else g.observed
        high = g.observed_ci_upper if g.observed_ci_upper is not None else g.observed
        ax.errorbar([g.predicted], [g.observed], yerr=[[g.observed - low], [high - g.observed]],
                    fmt="o", color="#1f4e79", capsize=3)
        ax.annotate(f"{g.group} (n={g.n})", (g.predicted, g.observed), fontsize="x-small",
                    xytext=(5, -10), textcoords="offset points")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    months = fit.calibration_months
    ax.set_xlabel(f"predicted P(resolved by {months} months)")
    ax.set_ylabel(f"observed (Kaplan–Meier, 95 % CI) by {months} months")
    ax.set_title(f"{fit.family}: calibration by risk group")
    return fig
