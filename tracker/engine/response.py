"""§7a Treatment response (`stages[].response`, every family) and the treatment evidence note.

Treatments never change stages. A treatment dated on an observation's date counts as after it:
for `o`, `t` is the latest treatment dated *before* `o.date` (9a.32), of any kind; `baseline` is
the last visible observation dated on or before `t.date`. RECIST 1.1: partial response is >= 30 %
below baseline, progression >= 20 % over the nadir [S12] (with §1's 2 mm floor), on one modality.

Reading choice: the `"{d} days after {kind}"` note is written for every observation after a
treatment, visible or not, whatever its modality; only `response` needs a baseline on the same
modality.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from tracker.engine.model import Response, Treatment
from tracker.engine.sizes import SIZE_CHANGE_FRACTION, SIZE_CHANGE_MM, exceeds, longest
from tracker.engine.steps import Staged, Step
from tracker.vocabulary import Modality, ResponseCategory, TreatmentKind

PARTIAL_RESPONSE_FRACTION = Decimal("0.7")  # L(o) <= 0.7 L(baseline): >= 30 % smaller [S12]
# Progression over the nadir uses §1's floors: >= 20 % and >= 2 mm [S12].
COMPLETE_PCT = Decimal("-100.0")
ONE_DECIMAL = Decimal("0.1")

TREATMENT_ORDER: dict[TreatmentKind, int] = {k: i for i, k in enumerate(TreatmentKind)}


def latest_treatment_before(treatments: Sequence[Treatment], day: date) -> date | None:
    """`t`: the date of the latest treatment strictly before `day` (same-day ones come after)."""
    dates = [t.date for t in treatments if t.date < day]
    return max(dates) if dates else None


def kinds_on(treatments: Sequence[Treatment], day: date) -> list[TreatmentKind]:
    """The treatment kinds given on `day`, in vocabulary order."""
    return sorted({t.kind for t in treatments if t.date == day}, key=TREATMENT_ORDER.__getitem__)


def treatment_evidence(step: Step) -> list[str]:
    """`"{d} days after {kind}"` for `t`, one per treatment dated `t.date` (vocabulary order)."""
    treatments = step.model.treatments
    t = latest_treatment_before(treatments, step.date)
    if t is None:
        return []
    days = (step.date - t).days
    return [f"{days} days after {kind.value}" for kind in kinds_on(treatments, t)]


def baseline_before(earlier: Sequence[Staged], t: date) -> Staged | None:
    """The last visible observation dated on or before the treatment."""
    return next((s for s in reversed(earlier) if s.finding.visible and s.date <= t), None)


def percent_one_decimal(part: Decimal, whole: Decimal) -> float:
    """100 × part / whole to one decimal, halves away from zero; -0.0 is written 0.0."""
    value = (100 * part / whole).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)
    return float(value) + 0.0  # + 0.0 turns -0.0 into 0.0


def response(step: Step) -> Response | None:
    """§7a: null before any treatment, without a baseline, or off the baseline's modality."""
    t = latest_treatment_before(step.model.treatments, step.date)
    if t is None:
        return None
    baseline = baseline_before(step.earlier, t)
    f = step.finding
    if baseline is None or f.modality is not baseline.finding.modality:
        return None
    if not f.visible:
        if f.modality is Modality.MR:  # not seeing calcium on MR is no response
            return None
        return Response(
            baseline.date, float(COMPLETE_PCT), float(COMPLETE_PCT), ResponseCategory.COMPLETE
        )
    a, b = longest(baseline.finding), longest(f)
    nadir = min(
        longest(s.finding)
        for s in step.earlier
        if s.date >= baseline.date
        and s.finding.visible
        and s.finding.modality is baseline.finding.modality
    )
    if exceeds(b - nadir, nadir, SIZE_CHANGE_MM, SIZE_CHANGE_FRACTION):
        category = ResponseCategory.PROGRESSION
    elif b <= PARTIAL_RESPONSE_FRACTION * a:
        category = ResponseCategory.PARTIAL
    else:
        category = ResponseCategory.STABLE
    return Response(
        baseline=baseline.date,
        change_pct=percent_one_decimal(b - a, a),
        nadir_change_pct=percent_one_decimal(b - nadir, nadir),
        category=category,
    )
