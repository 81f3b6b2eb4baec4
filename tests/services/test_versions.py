"""The observation's version (its ETag): every change moves it, and a writer holding an older
version cannot overwrite a newer one, whatever path it writes through."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from testkit.factories import make_lesion, make_patient, obs
from tracker.db import session_factory
from tracker.errors import StaleVersion
from tracker.models import AuditEvent, Observation
from tracker.services import imports, records
from tracker.timeline.models import ObservationIn
from tracker.timeline.reader import validate_timeline

VISIT = {"date": "2024-01-10", "modality": "XR", "size_mm": [12], "density": "dense",
         "margin": "well_defined"}


def test_every_change_moves_the_version_and_a_stale_one_is_refused(session: Session) -> None:
    lesion = make_lesion(session, observations=[obs("2024-01-10", 12), obs("2024-04-10", 10)])
    target = session.scalar(select(Observation.id).where(Observation.lesion_id == lesion.id)
                            .order_by(Observation.date).limit(1))
    assert target is not None
    row = records.update_observation(session, target, ObservationIn.model_validate(
        {**VISIT, "features": ["comet_tail"]}), actor="t", expected_version=1)
    assert row.version == 2  # a change of features alone moves it too
    same = records.update_observation(session, target, ObservationIn.model_validate(
        {**VISIT, "features": ["comet_tail"]}), actor="t", expected_version=2)
    assert same.version == 2  # nothing changed, nothing written
    with pytest.raises(StaleVersion) as stale:
        records.delete_observation(session, target, actor="t", expected_version=1)
    assert stale.value.current_version == 2
    session.rollback()
    assert session.get(Observation, target) is not None


def test_an_import_moves_the_version_so_an_older_edit_is_refused(database_url: str) -> None:
    """The bulk import writes under the row lock with its audit "before" the value it replaced,
    and moves the version: an edit form still holding the version before the import is refused
    instead of silently overwriting what the import wrote."""
    factory = session_factory(database_url)
    with factory() as s:
        patient = make_patient(s, external_id="P-1")
        lesion = make_lesion(s, patient=patient, observations=[obs("2024-01-10", 12)])
        target = lesion.id
    with factory() as s:
        held = s.scalars(select(Observation).where(Observation.lesion_id == target)).one()
        obs_id = held.id
        records.update_observation(s, obs_id, ObservationIn.model_validate(
            {**VISIT, "pain": 2}), actor="quick", expected_version=1)
    with factory() as s:
        doc = records_timeline(pain=9)
        imports.import_timeline(s, validate_timeline(doc, today=date.today()), actor="import")
        s.commit()
    with factory() as s:
        stored = s.get(Observation, obs_id)
        assert stored is not None and (stored.pain, stored.version) == (9, 3)
        event = s.scalars(select(AuditEvent).where(AuditEvent.actor == "import",
                                                   AuditEvent.target_type == "observation")).one()
        assert event.before is not None and event.before["pain"] == 2
        with pytest.raises(StaleVersion):
            records.update_observation(s, obs_id, ObservationIn.model_validate(
                {**VISIT, "pain": 4}), actor="late", expected_version=2)


def records_timeline(pain: int) -> dict[str, object]:
    return {"format": "lesion-timeline/1", "patients": [{"id": "P-1", "lesions": [{
        "id": "L1", "site": {"compartment": "tendon", "region": "shoulder",
                             "structure": "supraspinatus", "laterality": "right"},
        "entity": "hadd", "observations": [{**VISIT, "pain": pain}]}]}]}
