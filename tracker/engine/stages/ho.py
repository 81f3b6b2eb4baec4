"""§2.2 HO: zonal maturation [S13]-[S16], rows O1-O7, O4b and the event-window term.

Films are normal for 1-2 weeks, faint flocculent mineral at 3-4 weeks, a zoned rim at 5-8 weeks,
then organised bone. The window term applies to every HO stage but `resolved`, carried stages
and O4b included (9a.5). O2c/O2r/O2b and O4b are the rows shared with §2.1
(`stages/resolution.py`): one film misses mineral as easily in muscle as in tendon.
"""

from __future__ import annotations

from datetime import date

from tracker.engine.sizes import add_months
from tracker.engine.stages.resolution import missed_projection, resolution_rows
from tracker.engine.steps import Row, StageRow, Step, carried_row
from tracker.vocabulary import Density, Family, Feature, Margin, Pattern, Stage

# O2c 0.90, O2b 0.50, O2r n's final one: stages/resolution.py (as H2; HO has no O2a).
BASE: dict[str, int] = {"O1": 20, "O3": 30, "O4": 80, "O5": 70, "O6": 55, "O7": 60}

# Stage windows after the event [S13][S14] (overlapping on purpose, design).
HO_EARLY_BEFORE_DAYS = 8 * 7  # early: t < 8 weeks
HO_INTERMEDIATE_FROM_DAYS = 4 * 7  # intermediate: t >= 4 weeks ...
HO_INTERMEDIATE_UNTIL_MONTHS = 6  # ... and date <= add_months(event_date, 6)
HO_MATURE_FROM_DAYS = 12 * 7  # mature: t >= 12 weeks
HO_WINDOW_TERM = 10  # +0.10 inside the window, -0.10 outside

HO_ORDER: tuple[Stage, ...] = (Stage.HO_EARLY, Stage.HO_INTERMEDIATE, Stage.HO_MATURE)


def o1_mr_not_seen(step: Step) -> Row | None:
    """O1: not visible on MR after being seen: stage of prev(o), carried."""
    return carried_row("O1", BASE["O1"], step)


def o3_not_yet_mineralised(step: Step) -> Row | None:
    """O3: films are normal (or show only a mass) for the first 1-2 weeks."""
    if not step.visible:
        return Row("O3", Stage.HO_EARLY, BASE["O3"])
    return None


def o4b_missed_projection(step: Step) -> Row | None:
    """O4b: seen again, not grown, after an unconfirmed negative: staged by O4-O7, - 0.10."""
    return missed_projection("O", MATURATION_ROWS, step)


def o4_organised_bone(step: Step) -> Row | None:
    """O4: cortex and medulla, or trabecular organisation: mature bone."""
    f = step.finding
    if f.pattern is Pattern.BONE or Feature.BONE_ORGANIZATION in f.features:
        return Row("O4", Stage.HO_MATURE, BASE["O4"])
    return None


def o5_zoning(step: Step) -> Row | None:
    """O5: a mature periphery (zonal pattern or shell) appears at 5-8 weeks."""
    f = step.finding
    if Feature.ZONAL_PERIPHERAL in f.features or f.pattern is Pattern.SHELL:
        return Row("O5", Stage.HO_INTERMEDIATE, BASE["O5"])
    return None


def o6_consolidating(step: Step) -> Row | None:
    """O6: moderate or dense and well defined, without zoning: probably intermediate."""
    f = step.finding
    if f.density in (Density.MODERATE, Density.DENSE) and f.margin is Margin.WELL_DEFINED:
        return Row("O6", Stage.HO_INTERMEDIATE, BASE["O6"])
    return None


def o7_flocculent(step: Step) -> Row | None:
    """O7: faint flocculent mineral (3-4 weeks): early."""
    return Row("O7", Stage.HO_EARLY, BASE["O7"])


MATURATION_ROWS: tuple[StageRow, ...] = (
    o4_organised_bone,
    o5_zoning,
    o6_consolidating,
    o7_flocculent,
)

HO_ROWS: tuple[StageRow, ...] = (
    o1_mr_not_seen,
    *resolution_rows("O"),  # O2c, O2r, O2b
    o3_not_yet_mineralised,
    o4b_missed_projection,
    *MATURATION_ROWS,
)


def in_ho_window(stage: Stage, on: date, event_date: date) -> bool:
    """§2.2 stage windows after the event (overlapping on purpose)."""
    t = (on - event_date).days
    if stage is Stage.HO_EARLY:
        return t < HO_EARLY_BEFORE_DAYS
    if stage is Stage.HO_INTERMEDIATE:
        return t >= HO_INTERMEDIATE_FROM_DAYS and on <= add_months(
            event_date, HO_INTERMEDIATE_UNTIL_MONTHS
        )
    return t >= HO_MATURE_FROM_DAYS


def ho_window_term(step: Step, stage: Stage) -> int:
    """§2.2: +0.10 when the stage fits the time since the event, else -0.10 (not resolved)."""
    event = step.model.event_date
    if step.model.family is not Family.HO or event is None or stage not in HO_ORDER:
        return 0
    return HO_WINDOW_TERM if in_ho_window(stage, step.date, event) else -HO_WINDOW_TERM


def anchor(step: Step) -> date:
    """HO anchor (§2.2, 9a.16): `event_date`, else the first observation of any visibility."""
    if step.model.event_date is not None:
        return step.model.event_date
    return step.earlier[0].date if step.earlier else step.date
