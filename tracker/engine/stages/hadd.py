"""§2.1 HADD: the Uhthoff cycle [S1][S2], rows H1-H12 with signs M, F, D.

The first matching row wins (§2). Reading choices:
- Sign D's run peak is the largest `L` on the *same modality as o* among the unbroken
  formative/resting observations just before `o`; carried MR stages neither break the run nor
  add a size (9a.17).
- The first matching row wins literally: a deposit back after a *confirmed* `resolved` is
  `formative` (H4) even with resorptive morphology, and a first image with M or F is `resorptive`
  (H5).
- H4b reads H5-H12 on a view of `o` whose earlier observations end at `ref(o)` (so `prev(o)` is
  `ref(o)` and D's run peak ends there; 9a.26); §3-§5 keep the real `prev(o)`. Its rule id is
  `H4b`; the evidence names the inner row's note too (H12's `"resorption stalled"`).
- A visible observation that no row matches cannot occur (H4-H12 cover every visible case); the
  typed fallback is named `H10` so that nothing is silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tracker.engine.model import Finding
from tracker.engine.sizes import SIZE_CHANGE_FRACTION, SIZE_CHANGE_MM, Change, exceeds, longest
from tracker.engine.stages.resolution import missed_projection, resolution_rows
from tracker.engine.steps import Row, StageRow, Step, carried_row
from tracker.vocabulary import Density, Feature, Margin, Pattern, Stage

# Base confidence per row, in hundredths.
BASE: dict[str, int] = {
    "H1": 20,  # MR not seen, carried
    # H2c 0.90, H2a 0.75, H2b 0.50, H2r n's final one: stages/resolution.py (shared with O2, G2)
    "H3": 30,
    "H4": 60,
    "H5": 60,
    "H6": 70,
    "H7": 60,
    "H8": 75,
    "H8.after_resorption": 60,  # H8 with prev(o) resorptive/postcalcific
    "H9": 50,
    "H10": 70,
    "H11": 70,
    "H12": 60,
}
H5_FURTHER_SIGN_GROUP = 10  # H5: +0.10 per further group of M, F, D present
# H6/H11: a post-calcific residue is at most 5 mm (design; Bosworth small/medium, 9a.11).
POSTCALCIFIC_MAX_MM = Decimal("5")
RESORPTION_STALLED = "resorption stalled"  # H12's rule note

RUN_STAGES = frozenset({Stage.FORMATIVE, Stage.RESTING})
AFTER_RESORPTION = frozenset({Stage.RESORPTIVE, Stage.POSTCALCIFIC})
RESORBED = frozenset({Stage.RESORPTIVE, Stage.POSTCALCIFIC, Stage.RESOLVED})
SPREADING = frozenset({Feature.COMET_TAIL, Feature.INTRABURSAL_MIGRATION})


@dataclass(frozen=True, slots=True)
class HaddSigns:
    """Signs M, F, D of a visible observation; `peak` set when only the run peak shows D."""

    m: bool
    f: bool
    d: bool
    peak: Decimal | None = None

    @property
    def groups(self) -> int:
        return int(self.m) + int(self.f) + int(self.d)


def sign_m(f: Finding) -> bool:
    """M, morphology of resorption: faint, ill defined or cloud-like [S1][S5]."""
    return (
        f.density is Density.FAINT or f.margin is Margin.ILL_DEFINED or f.pattern is Pattern.CLOUD
    )


def sign_f(f: Finding) -> bool:
    """F, a deposit on the move: comet tail, bursal migration, bone extension [S1][S23]."""
    return bool(
        {Feature.COMET_TAIL, Feature.INTRABURSAL_MIGRATION, Feature.INTRAOSSEOUS_EXTENSION}
        & set(f.features)
    )


def run_peak(step: Step) -> Decimal | None:
    """Largest L on o's modality in the unbroken formative/resting run just before o (sign D).

    Carried MR observations keep the run going but add no size (9a.17).
    """
    peak: Decimal | None = None
    for s in reversed(step.earlier):
        if s.stage not in RUN_STAGES:
            break
        f = s.finding
        if f.visible and f.size_mm and f.modality is step.finding.modality:
            size = longest(f)
            peak = size if peak is None or size > peak else peak
    return peak


def sign_d(step: Step) -> tuple[bool, Decimal | None]:
    """D: a decrease, or >= 2 mm and >= 20 % below the run peak (catches slow shrinkage)."""
    if step.change is Change.DECREASE:
        return True, None
    peak = run_peak(step)
    b = longest(step.finding)
    if peak is not None and exceeds(peak - b, peak, SIZE_CHANGE_MM, SIZE_CHANGE_FRACTION):
        return True, peak
    return False, None


def hadd_signs(step: Step) -> HaddSigns:
    if not step.visible:
        return HaddSigns(False, False, False)
    d, peak = sign_d(step)
    return HaddSigns(m=sign_m(step.finding), f=sign_f(step.finding), d=d, peak=peak)


def h1_mr_not_seen(step: Step) -> Row | None:
    """H1: not visible on MR after being seen: stage of prev(o), carried."""
    return carried_row("H1", BASE["H1"], step)


def h3_precalcific(step: Step) -> Row | None:
    """H3: looked for and never seen: fibrocartilaginous metaplasia, no calcium yet."""
    if not step.visible:
        return Row("H3", Stage.PRECALCIFIC, BASE["H3"])
    return None


def h4b_missed_projection(step: Step) -> Row | None:
    """H4b: seen again, not grown, after an unconfirmed negative: the film missed it (9a.26).

    Staged by H5-H12 reading ref(o) for prev(o) (D's run peak ends at ref(o)), - 0.10.
    """
    return missed_projection("H", RESORPTION_ROWS, step)


def h4_recurrence(step: Step) -> Row | None:
    """H4: visible again after a confirmed resolution (or grown after any): a new deposit."""
    if step.prev_stage is Stage.RESOLVED:
        return Row("H4", Stage.FORMATIVE, BASE["H4"])
    return None


def h5_resorptive_signs(step: Step) -> Row | None:
    """H5: M or F means resorption; each further sign group (M, F, D) adds 0.10."""
    signs = hadd_signs(step)
    if signs.m or signs.f:
        base = BASE["H5"] + H5_FURTHER_SIGN_GROUP * (signs.groups - 1)
        return Row("H5", Stage.RESORPTIVE, base)
    return None


def h6_small_residue(step: Step) -> Row | None:
    """H6: shrinking to <= 5 mm without resorptive morphology is the post-calcific residue."""
    if hadd_signs(step).d and longest(step.finding) <= POSTCALCIFIC_MAX_MM:
        return Row("H6", Stage.POSTCALCIFIC, BASE["H6"])
    return None


def h7_shrinking(step: Step) -> Row | None:
    """H7: shrinking, still larger than a residue: resorption under way."""
    if hadd_signs(step).d:
        return Row("H7", Stage.RESORPTIVE, BASE["H7"])
    return None


def h8_growth(step: Step) -> Row | None:
    """H8: growth is formation; less sure right after resorption (regrowth is unusual)."""
    if step.change is Change.GROWTH:
        if step.prev_stage in AFTER_RESORPTION:
            return Row("H8", Stage.FORMATIVE, BASE["H8.after_resorption"])
        return Row("H8", Stage.FORMATIVE, BASE["H8"])
    return None


def h9_first(step: Step) -> Row | None:
    """H9: a first image cannot tell formative from resting; only a later stable one shows rest."""
    if step.change is Change.FIRST:
        return Row("H9", Stage.FORMATIVE, BASE["H9"])
    return None


def h10_resting(step: Step) -> Row | None:
    """H10: unchanged after formation: the resting phase."""
    if step.change is Change.STABLE and step.prev_stage in RUN_STAGES:
        return Row("H10", Stage.RESTING, BASE["H10"])
    return None


def h11_postcalcific(step: Step) -> Row | None:
    """H11: unchanged after post-calcific, or after resorption down to <= 5 mm: residue."""
    if step.change is not Change.STABLE:
        return None
    small = longest(step.finding) <= POSTCALCIFIC_MAX_MM
    if step.prev_stage is Stage.POSTCALCIFIC or (step.prev_stage is Stage.RESORPTIVE and small):
        return Row("H11", Stage.POSTCALCIFIC, BASE["H11"])
    return None


def h12_resorption_stalled(step: Step) -> Row | None:
    """H12: unchanged after resorption and still > 5 mm: resorption stalled, deposit rests."""
    if (
        step.change is Change.STABLE
        and step.prev_stage is Stage.RESORPTIVE
        and longest(step.finding) > POSTCALCIFIC_MAX_MM
    ):
        return Row("H12", Stage.RESTING, BASE["H12"], notes=(RESORPTION_STALLED,))
    return None


def h10_fallback(step: Step) -> Row | None:
    """Unreachable (rows H4-H12 cover every visible case); typed so nothing is silent."""
    return Row("H10", Stage.RESTING, BASE["H10"])


RESORPTION_ROWS: tuple[StageRow, ...] = (
    h5_resorptive_signs,
    h6_small_residue,
    h7_shrinking,
    h8_growth,
    h9_first,
    h10_resting,
    h11_postcalcific,
    h12_resorption_stalled,
)

HADD_ROWS: tuple[StageRow, ...] = (
    h1_mr_not_seen,
    # H2c, H2r, H2a (gone after resorptive/postcalcific, same modality), H2b
    *resolution_rows("H", AFTER_RESORPTION),
    h3_precalcific,
    h4b_missed_projection,
    h4_recurrence,
    *RESORPTION_ROWS,
    h10_fallback,
)
