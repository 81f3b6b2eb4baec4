"""§7 Classifications: reported, never used for staging. Gärtner and SFA on a shoulder deposit's
radiograph or CT (revision 3) with density and margin assessed; Bosworth on every visible
hadd-family deposit; Brooker never."""

from __future__ import annotations

import pytest

from tracker.engine import Finding
from tracker.engine.classifications import classifications
from tracker.vocabulary import Compartment, Density, Entity, Family, Margin, Modality
from tracker.vocabulary import Pattern as P
from tracker.vocabulary import Region as R
from tracker.vocabulary import Texture as T

from .builders import D, assess, ct, not_seen, us, xr
from .morphs import DWH_, DWHN, FIHC, Morph

HADD = Entity.HADD


def test_gartner_and_sfa_need_density_and_margin_bosworth_does_not() -> None:
    measured_only = Finding(D("2024-01-10"), Modality.XR, size_mm=(14.0,))
    assert dict(classifications(measured_only, Family.HADD, R.SHOULDER)) == {"bosworth": "medium"}
    density_only = Finding(D("2024-01-10"), Modality.XR, size_mm=(4.0,), density=Density.DENSE)
    assert dict(classifications(density_only, Family.HADD, R.SHOULDER)) == {"bosworth": "small"}


def test_classifications_on_radiograph_ct_and_ultrasound() -> None:
    faint_cloud = Morph(Density.FAINT, Margin.WELL_DEFINED, T.HOMOGENEOUS, P.CLOUD)
    lobulated = Morph(Density.DENSE, Margin.WELL_DEFINED, T.HOMOGENEOUS, P.MULTILOCULATED)
    a = assess(
        HADD,
        xr("2024-01-10", 4.9, DWH_),  # texture given, pattern missing
        xr("2024-02-10", 4.9, Morph(Density.DENSE, Margin.WELL_DEFINED, None, P.NODULAR)),
        ct("2024-03-10", 4.9, lobulated),
        xr("2024-04-10", 15, faint_cloud),
        us("2024-05-10", 15.1),
        as_of="2024-05-10",
    )
    cls = [dict(s.classifications) for s in a.stages]
    assert cls[0] == {"gartner": "I", "sfa": "A", "bosworth": "small"}
    assert cls[1] == {"gartner": "I", "sfa": "C", "bosworth": "small"}  # 9a.10
    assert cls[2] == {"gartner": "I", "sfa": "B", "bosworth": "small"}
    assert cls[3] == {"gartner": "III", "sfa": "C", "bosworth": "medium"}
    assert cls[4] == {"bosworth": "large"}  # Gärtner and SFA are radiographic
    assert all("brooker" not in c for c in cls)


def test_gartner_tests_i_then_iii_then_ii() -> None:
    """9a.9: I (dense, well defined, not heterogeneous), then III, then II."""
    a = assess(
        HADD,
        xr("2024-01-10", 10, Morph(Density.DENSE, Margin.WELL_DEFINED, T.HOMOGENEOUS, P.CLOUD)),
        xr("2024-02-10", 10, Morph(Density.DENSE, Margin.ILL_DEFINED, T.HOMOGENEOUS, P.NODULAR)),
        xr("2024-03-10", 10, Morph(Density.DENSE, Margin.WELL_DEFINED, T.HETEROGENEOUS, P.NODULAR)),
        as_of="2024-03-10",
    )
    assert [dict(s.classifications)["gartner"] for s in a.stages] == ["I", "II", "II"]


@pytest.mark.parametrize(
    ("entity", "region"),
    [
        (Entity.HADD, R.HIP),  # gluteus medius tendon
        (Entity.HADD, R.ELBOW),  # common extensor origin
        (Entity.HADD, R.HAND),
        (Entity.HADD, R.UPPER_ARM),  # pectoralis major insertion: not the rotator cuff
        (Entity.HADD_PERIARTICULAR, R.WRIST),
        (Entity.LONGUS_COLLI_TENDINITIS, R.CERVICAL_SPINE),
        (Entity.DISC_HADD, R.LUMBAR_SPINE),
    ],
)
def test_gartner_and_sfa_only_at_the_shoulder_bosworth_everywhere(
    entity: Entity, region: R
) -> None:
    """Revision 3: both systems were described on rotator-cuff radiographs."""
    a = assess(
        entity,
        xr("2024-01-10", 8, DWHN),
        ct("2024-03-10", 16, FIHC),
        region=region,
        as_of="2024-04-01",
    )
    assert a.family is Family.HADD
    assert [dict(s.classifications) for s in a.stages] == [
        {"bosworth": "medium"},
        {"bosworth": "large"},
    ]
    at_the_shoulder = assess(
        entity,
        xr("2024-01-10", 8, DWHN),
        ct("2024-03-10", 16, FIHC),
        region=R.SHOULDER,
        as_of="2024-04-01",
    )
    assert [dict(s.classifications) for s in at_the_shoulder.stages] == [
        {"gartner": "I", "sfa": "A", "bosworth": "medium"},
        {"gartner": "III", "sfa": "C", "bosworth": "large"},
    ]


def test_a_suggested_hadd_follows_the_shoulder_rule_too() -> None:
    elbow = assess(
        None,
        xr("2024-01-10", 8, DWHN),
        compartment=Compartment.TENDON,
        region=R.ELBOW,
        as_of="2024-01-10",
    )
    assert elbow.entity is HADD and dict(elbow.stages[0].classifications) == {"bosworth": "medium"}


def test_no_classification_outside_the_hadd_family_or_when_not_seen() -> None:
    a = assess(Entity.ENTHESOPATHY, xr("2024-01-10", 10), as_of="2024-01-10")
    assert a.stages[0].classifications == ()
    b = assess(HADD, xr("2024-01-10", 10), not_seen("2024-06-10"), as_of="2024-06-10")
    assert b.stages[1].classifications == ()
    c = assess(Entity.GOUT, xr("2024-01-10", 16, DWHN), as_of="2024-05-01")
    assert c.stages[0].classifications == ()
