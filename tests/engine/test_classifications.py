"""§7 Classifications: reported, never used for staging; Gärtner/SFA need density and margin."""

from __future__ import annotations

from tracker.engine import Finding
from tracker.engine.classifications import classifications
from tracker.vocabulary import Density, Entity, Family, Modality

from .builders import DWHN, D, assess, us, xr


def test_gartner_and_sfa_need_density_and_margin_bosworth_does_not() -> None:
    measured_only = Finding(D("2024-01-10"), Modality.XR, size_mm=(14.0,))
    assert dict(classifications(measured_only, Family.HADD)) == {"bosworth": "medium"}
    density_only = Finding(D("2024-01-10"), Modality.XR, size_mm=(4.0,), density=Density.DENSE)
    assert dict(classifications(density_only, Family.HADD)) == {"bosworth": "small"}


def test_full_morphology_on_xr_gives_all_three_and_us_only_bosworth() -> None:
    a = assess(
        Entity.HADD, xr("2024-01-10", 16, DWHN), us("2024-04-10", 16, DWHN), as_of="2024-05-01"
    )
    assert dict(a.stages[0].classifications) == {"gartner": "I", "sfa": "A", "bosworth": "large"}
    assert dict(a.stages[1].classifications) == {"bosworth": "large"}


def test_no_classification_outside_the_hadd_family() -> None:
    a = assess(Entity.GOUT, xr("2024-01-10", 16, DWHN), as_of="2024-05-01")
    assert a.stages[0].classifications == ()
