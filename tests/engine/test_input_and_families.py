"""Which model each entity follows (§2) and what input the engine refuses (9a.22)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tracker.engine import Finding, infer
from tracker.vocabulary import ENTITIES, Entity, Family

from .builders import D, lesion, xr


@pytest.mark.parametrize(
    ("entity", "family"),
    [
        (Entity.HADD, Family.HADD),
        (Entity.HADD_PERIARTICULAR, Family.HADD),
        (Entity.LONGUS_COLLI_TENDINITIS, Family.HADD),
        (Entity.DISC_HADD, Family.HADD),
        (Entity.FACET_HADD, Family.HADD),
        (Entity.HO, Family.HO),
        (Entity.POST_TRAUMATIC_OSSIFICATION, Family.HO),
        (Entity.CROWNED_DENS, Family.GENERIC),  # mostly CPPD: no Uhthoff cycle assumed
        (Entity.CPPD, Family.GENERIC),
    ],
)
def test_entity_selects_the_stage_model(entity: Entity, family: Family) -> None:
    a = infer(lesion(entity, xr("2024-01-10", 8)), D("2024-01-10"))
    assert a.family is family is ENTITIES[entity].family


def test_every_entity_can_be_assessed() -> None:
    for entity in Entity:
        a = infer(lesion(entity, xr("2024-01-10", 8), xr("2024-06-10", 12)), D("2025-01-01"))
        assert len(a.stages) == 2


def _bad(f: Finding) -> None:
    infer(lesion(Entity.HADD, f), D("2024-01-10"))


def test_two_findings_on_one_date_are_refused() -> None:
    with pytest.raises(ValueError, match="same date"):
        infer(lesion(Entity.HADD, xr("2024-01-10", 8), xr("2024-01-10", 9)), D("2024-02-01"))


def test_visible_finding_needs_a_size_whose_first_value_is_the_longest() -> None:
    with pytest.raises(ValueError, match="no size"):
        _bad(replace(xr("2024-01-10", 8), size_mm=()))
    with pytest.raises(ValueError, match="longest"):
        _bad(replace(xr("2024-01-10", 8), size_mm=(8.0, 9.0)))
    with pytest.raises(ValueError, match="<= 0"):
        _bad(replace(xr("2024-01-10", 8), size_mm=(8.0, 0.0)))
