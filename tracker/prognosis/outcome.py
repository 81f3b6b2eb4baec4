"""Time to resolution of one lesion: the one definition of the event, its time and censoring.

Read by the cohort outcomes (Kaplan–Meier, `tracker.cohort`) and by the prognosis models alike,
from a lesion's visits in date order, each with the stage the engine gave it (stored or just
inferred). Pure: standard library and the engine's resolution constants only.

- Time zero is the first visible observation (baseline).
- The event is the first `resolved` stage after it, dated at that negative film `n`; the
  deposit was last seen on the visible film before `n`, so it vanished in (last seen, `n`].
- A resolution is **confirmed** by a later XR/CT/US negative >= 28 days after `n` (H2c, G2c,
  O2c). An **unconfirmed** one (H2b/G2b/O2b, or H2a/G2a before its confirmation) that a later
  film contradicts (the deposit is seen again before any confirmation: H4b's missed projection,
  or regrowth) is no event: the walk goes on from the film that showed it again. An unconfirmed
  one that nothing contradicts (the last films of the lesion) **counts**, dated at `n`:
  a negative film is usually right (the engine gives it 0.50-0.75, and fluffy or resorbing
  deposits mostly vanish [S4][S24]); treating it as censored would drop the lesions that just
  resolved from the risk set because they resolved (informative censoring), biasing every
  estimate towards slower resolution. The cost is the opposite bias, as large as the share of
  single negatives that are missed projections; `Outcome.contradicted` and `reimaged` let a fit
  measure that share in the clinic's own data.
- Otherwise the lesion is censored at the last film that showed the deposit. A later MR
  negative says nothing (MR is insensitive to calcification [S1]; the engine carries the stage).
- `censor_at` (the first invasive treatment, for natural history) ends follow-up on that date:
  a visit on the treatment's date still counts (rules §7a: a treatment dated on an
  observation's date counts as after it); the deposit was there when it was treated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from tracker.engine.stages.resolution import CONFIRM_ABSENCE_DAYS
from tracker.vocabulary import Modality, Stage

_RESOLVED = Stage.RESOLVED.value
_MR = Modality.MR.value


@dataclass(frozen=True, slots=True)
class Visit:
    """One observation as the outcome and the baseline covariates read it (codes as strings,
    as stored). `size_mm` (longest diameter), `pain` and `gartner` matter at baseline only."""

    date: date
    visible: bool
    modality: str
    stage: str
    size_mm: float | None = None
    pain: int | None = None
    gartner: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """A lesion as survival data, in days from its baseline.

    Event: resolution in (`last_seen_days`, `days`]; censored: still there at `days`
    (`last_seen_days == days`). `reimaged` counts unconfirmed negatives that a later film
    settled (confirmed or contradicted), `contradicted` those it contradicted.
    """

    baseline: date
    days: int
    event: bool
    last_seen_days: int
    confirmed: bool = False
    censored_by_treatment: bool = False
    reimaged: int = 0
    contradicted: int = 0


def _off_mr(visit: Visit) -> bool:
    return visit.modality != _MR


def resolution_outcome(visits: Sequence[Visit], censor_at: date | None = None) -> Outcome | None:
    """The lesion's time to resolution; None when it was never seen (no baseline).

    `visits` in date order, one per date.
    """
    base = next((v for v in visits if v.visible), None)
    if base is None:
        return None
    confirm = timedelta(days=CONFIRM_ABSENCE_DAYS)
    last_seen = base.date
    pending: Visit | None = None  # n: the negative that opened the unconfirmed run
    seen_at_n = base.date
    reimaged = contradicted = 0

    def days(d: date) -> int:
        return (d - base.date).days

    for visit in visits:
        if visit.date <= base.date:
            continue
        if censor_at is not None and visit.date > censor_at:
            if pending is not None:
                break  # resolved before the treatment: an unconfirmed event (below)
            end = max(censor_at, base.date)
            return Outcome(base.date, days(end), False, days(end), censored_by_treatment=True,
                           reimaged=reimaged, contradicted=contradicted)
        if visit.visible:
            if pending is not None:
                reimaged += 1
                contradicted += 1
                pending = None
            last_seen = visit.date
        elif visit.stage == _RESOLVED:
            if pending is None:
                pending, seen_at_n = visit, last_seen
            elif _off_mr(visit) and visit.date >= pending.date + confirm:
                return Outcome(base.date, days(pending.date), True, days(seen_at_n),
                               confirmed=True, reimaged=reimaged + 1, contradicted=contradicted)
    if pending is not None:
        return Outcome(base.date, days(pending.date), True, days(seen_at_n),
                       reimaged=reimaged, contradicted=contradicted)
    return Outcome(base.date, days(last_seen), False, days(last_seen), reimaged=reimaged,
                   contradicted=contradicted)
