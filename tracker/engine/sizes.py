"""§0 Conventions and §1 Size comparison of clinical-rules.md.

Dates (`add_months`, `months_between`), exact decimal sizes, rounding, and the growth/decrease
test between an observation and `ref(o)`. Pure: standard library and the engine's types only.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from tracker.engine.model import Finding

# §0: confidence is summed in integer hundredths and clamped to [0.05, 0.95].
CONFIDENCE_MIN = 5
CONFIDENCE_MAX = 95

# §1: a change must clear both the absolute and the relative floor. RECIST 1.1 [S12], CT
# measurement spread [S11]; the 2 mm floor is design; cross-modality thresholds doubled (design).
SIZE_CHANGE_MM = Decimal("2")
SIZE_CHANGE_FRACTION = Decimal("0.20")
XMOD_SIZE_CHANGE_MM = Decimal("4")
XMOD_SIZE_CHANGE_FRACTION = Decimal("0.40")


def add_months(d: date, n: int) -> date:
    """Same day number n months later, clamped to the month's end (01-31 + 1 = 02-29)."""
    months = d.year * 12 + (d.month - 1) + n
    year, month = divmod(months, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(d.day, last_day))


def months_between(a: date, b: date) -> int:
    """Largest n with add_months(a, n) <= b: whole months as a clinician counts them."""
    n = (b.year - a.year) * 12 + (b.month - a.month)
    return n - 1 if add_months(a, n) > b else n


def decimal_mm(x: float) -> Decimal:
    """Sizes compare as the decimals that were typed, not as binary floats."""
    return Decimal(str(x))


def percent_half_up(part: Decimal, whole: Decimal) -> int:
    """|part| as a whole percentage of whole, rounded half up (35.5 % reads 36 %)."""
    return int((abs(part) * 100 / whole).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_mm(x: Decimal) -> str:
    """One decimal, as in evidence and reasons (9a.20): 12.5, 7.0."""
    return str(x.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def clamp_confidence(hundredths: int) -> int:
    """A stage is never certain nor worthless: [0.05, 0.95]."""
    return max(CONFIDENCE_MIN, min(CONFIDENCE_MAX, hundredths))


def longest(f: Finding) -> Decimal:
    """L(o) = size_mm[0], the longest diameter."""
    return decimal_mm(f.size_mm[0])


# --------------------------------------------------------------------------------------------
# §1 Size comparison
# --------------------------------------------------------------------------------------------


class Change(StrEnum):
    FIRST = "first"
    GROWTH = "growth"
    DECREASE = "decrease"
    STABLE = "stable"


@dataclass(frozen=True, slots=True)
class SizeComparison:
    """L(ref(o)) against L(o); `a`, `b` as in §1."""

    ref: Finding
    a: Decimal
    b: Decimal
    xmod: bool
    change: Change

    @property
    def percent(self) -> int:
        return percent_half_up(self.b - self.a, self.a)

    def text(self) -> str:
        """§3 templates; across modalities a `stable` result is no evidence of stability (§1,
        revision 3): it reads as within the doubled tolerance."""
        sizes = f"({format_mm(self.a)}→{format_mm(self.b)} mm)"
        if self.change is Change.GROWTH:
            return f"size +{self.percent}% {sizes}"
        if self.change is Change.DECREASE:
            return f"size -{self.percent}% {sizes}"
        if self.xmod:
            return f"size change within cross-modality tolerance {sizes}"
        return f"size stable {sizes}"


def exceeds(delta: Decimal, base: Decimal, min_mm: Decimal, min_fraction: Decimal) -> bool:
    """Both floors, inclusive: a change is real only when it is large in mm and in percent."""
    return delta >= min_mm and delta >= min_fraction * base


def compare_sizes(ref: Finding, o: Finding) -> SizeComparison:
    """§1: growth/decrease need >= 2 mm and >= 20 % (xmod: 4 mm and 40 %), else stable."""
    a, b = longest(ref), longest(o)
    xmod = ref.modality is not o.modality
    mm = XMOD_SIZE_CHANGE_MM if xmod else SIZE_CHANGE_MM
    fraction = XMOD_SIZE_CHANGE_FRACTION if xmod else SIZE_CHANGE_FRACTION
    if exceeds(b - a, a, mm, fraction):
        change = Change.GROWTH
    elif exceeds(a - b, a, mm, fraction):
        change = Change.DECREASE
    else:
        change = Change.STABLE
    return SizeComparison(ref=ref, a=a, b=b, xmod=xmod, change=change)
