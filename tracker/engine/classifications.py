"""§7 Classifications: Gärtner-Heyer, SFA/Molé, Bosworth; Brooker never (9a.12).

Reported, never used for staging: observers agree poorly on both morphology systems [S8].
Gärtner and SFA were described on rotator-cuff radiographs: since revision 3 only a shoulder
deposit gets them; Bosworth (size alone) stays for every hadd-family deposit.
Reading choice: classifications follow the family actually used (also when the entity was
suggested); "shoulder" is the lesion's region `shoulder` (a `upper_arm` deposit gets none).
"""

from __future__ import annotations

from decimal import Decimal

from tracker.engine.model import Finding
from tracker.engine.sizes import longest
from tracker.vocabulary import Density, Family, Margin, Modality, Pattern, Region, Texture

# Bosworth [S7][S5]: small L < 5, medium 5-15, large L > 15 mm.
BOSWORTH_SMALL_BELOW_MM = Decimal("5")
BOSWORTH_LARGE_ABOVE_MM = Decimal("15")

_RADIOGRAPHIC = frozenset({Modality.XR, Modality.CT})
MORPHOLOGY_SYSTEM_REGIONS = frozenset({Region.SHOULDER})  # Gärtner, SFA (revision 3)


def gartner(f: Finding) -> str:
    """Gärtner-Heyer [S6][S5], tested I, then III, then II (9a.9); I accepts a missing texture."""
    if (
        f.density is Density.DENSE
        and f.margin is Margin.WELL_DEFINED
        and f.texture is not Texture.HETEROGENEOUS
    ):
        return "I"
    if (
        f.density is Density.FAINT
        or (f.density is Density.MODERATE and f.margin is Margin.ILL_DEFINED)
        or f.pattern is Pattern.CLOUD
    ):
        return "III"
    return "II"


def sfa(f: Finding) -> str:
    """SFA/Molé [S5]: A requires `homogeneous` (9a.10); D (insertional) is never assigned."""
    dense_sharp = f.density is Density.DENSE and f.margin is Margin.WELL_DEFINED
    multiloculated = f.pattern is Pattern.MULTILOCULATED
    if dense_sharp and f.texture is Texture.HOMOGENEOUS and not multiloculated:
        return "A"
    if dense_sharp and (f.texture is Texture.HETEROGENEOUS or multiloculated):
        return "B"
    return "C"


def bosworth(f: Finding) -> str:
    """Bosworth [S7][S5]: small < 5 mm, medium 5-15 mm, large > 15 mm."""
    size = longest(f)
    if size < BOSWORTH_SMALL_BELOW_MM:
        return "small"
    if size > BOSWORTH_LARGE_ABOVE_MM:
        return "large"
    return "medium"


def classifications(
    f: Finding, family: Family, region: Region | None
) -> tuple[tuple[str, str], ...]:
    """Gärtner and SFA on a visible shoulder XR/CT, Bosworth on any visible finding; HADD
    family only.

    Gärtner and SFA are left out when density or margin was not assessed (9a.3); Brooker is
    never computed: it needs the pelvis-femur gap, which is not recorded (9a.12).
    """
    if family is not Family.HADD or not f.visible:
        return ()
    out: list[tuple[str, str]] = []
    if (
        region in MORPHOLOGY_SYSTEM_REGIONS
        and f.modality in _RADIOGRAPHIC
        and f.density is not None
        and f.margin is not None
    ):
        out += [("gartner", gartner(f)), ("sfa", sfa(f))]
    out.append(("bosworth", bosworth(f)))
    return tuple(out)
