"""The patient list's maintained summaries equal a recount of the stored rows after any mix of
writers (and under concurrent writers on PostgreSQL); its keyset pages give the rows an unpaged
query gives, in order, also when rows change between two pages."""

from __future__ import annotations

import io
import json
import random
import threading
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tracker import demo
from tracker.db import session_factory
from tracker.errors import Conflict, InvalidInput
from tracker.models import Alert, Lesion, Observation, Patient
from tracker.queries import paging
from tracker.queries.patient_list import PatientRow, patient_list
from tracker.services import alerts, identity, records, treatments
from tracker.services.assessment.assess import assess_lesions
from tracker.services.assessment.scan import scan_alerts
from tracker.services.imports import import_stream
from tracker.summaries import summary_differences, summary_rows
from tracker.timeline.models import ObservationIn, TreatmentIn
from tracker.timeline.stream import PatientStream
from tracker.vocabulary import AlertState

TODAY = date.today()


def _cohort(session: Session) -> list[int]:
    """The demo cohort, imported and assessed: 40 patients, open alerts of every severity."""
    data = json.dumps(demo.document(TODAY)).encode()
    import_stream(session, PatientStream(io.BytesIO(data), today=TODAY), actor="test")
    ids = list(session.scalars(select(Lesion.id).order_by(Lesion.id)))
    assess_lesions(session, ids, TODAY)
    return ids


def _open_alerts(session: Session) -> list[int]:
    return list(session.scalars(select(Alert.id).where(Alert.state == AlertState.OPEN.value)
                                .order_by(Alert.id)))


def _step(session: Session, rng: random.Random, step: int) -> None:
    """One random change through a service (the writers the list depends on)."""
    lesion_ids = list(session.scalars(select(Lesion.id).order_by(Lesion.id)))
    lesion_id = rng.choice(lesion_ids)
    action = rng.choice(["observe", "correct", "delete", "acknowledge", "snooze", "bulk",
                         "treat", "merge", "split", "assess", "scan"])
    if action == "observe":
        last = session.scalar(select(Observation.date).where(Observation.lesion_id == lesion_id)
                              .order_by(Observation.date.desc()).limit(1))
        day = min(TODAY, (last or TODAY) + timedelta(days=1 + rng.randrange(30)))
        if day == last:
            return
        size = rng.choice([None, 3.0, 12.0, 30.0])
        fields: dict[str, Any] = {"date": day.isoformat(), "modality": "XR",
                                  "visible": size is not None}
        if size is not None:
            fields.update(size_mm=[size], density="dense", margin="well_defined")
        records.record_observation(session, lesion_id, ObservationIn.model_validate(fields),
                                   actor="t")
    elif action in ("correct", "delete"):
        rows = session.execute(select(Observation.id, Observation.date, Observation.size1_mm)
                               .where(Observation.lesion_id == lesion_id)).all()
        oid, day, size = rng.choice(rows)
        if action == "delete":
            if len(rows) > 1:
                records.delete_observation(session, oid, actor="t", reason="error")
            return
        fields = {"date": day.isoformat(), "modality": "CT", "visible": True,
                  "size_mm": [(size or 5.0) + 1], "density": "faint", "margin": "ill_defined"}
        records.update_observation(session, oid, ObservationIn.model_validate(fields),
                                   actor="t")
    elif action in ("acknowledge", "snooze", "bulk"):
        open_ids = _open_alerts(session)
        if not open_ids:
            return
        if action == "acknowledge":
            alerts.acknowledge_alert(session, rng.choice(open_ids), actor="t", reason="seen")
        elif action == "snooze":
            alerts.snooze_alert(session, rng.choice(open_ids), TODAY + timedelta(days=3),
                                actor="t", reason="wait", today=TODAY)
        else:
            alerts.decide_alerts(session, rng.sample(open_ids, min(3, len(open_ids))),
                                 snooze=False, actor="t", reason="seen", today=TODAY)
    elif action == "treat":
        day = TODAY - timedelta(days=rng.randrange(1, 40))
        try:
            treatments.record_treatment(session, lesion_id, TreatmentIn.model_validate(
                {"date": day.isoformat(), "kind": "lavage"}), actor="t")
        except (Conflict, InvalidInput):
            session.rollback()
    elif action == "merge":
        patient = session.scalar(select(Lesion.patient_id).where(Lesion.id == lesion_id))
        others = list(session.scalars(select(Lesion.id).where(Lesion.patient_id == patient,
                                                              Lesion.id != lesion_id)))
        if others:
            days = session.scalars(select(Observation.date).where(
                Observation.lesion_id.in_([lesion_id, others[0]])))
            identity.merge_lesions(session, lesion_id, others[0],
                                   prefer=dict.fromkeys(days, "kept"), actor="t", reason="same")
    elif action == "split":
        obs_ids = list(session.scalars(select(Observation.id)
                                       .where(Observation.lesion_id == lesion_id)))
        if len(obs_ids) > 1:
            identity.split_lesion(session, lesion_id, obs_ids[-1:],
                                  new_external_id=f"S{step}", actor="t", reason="two")
    elif action == "assess":
        assess_lesions(session, rng.sample(lesion_ids, min(5, len(lesion_ids))), TODAY)
    else:
        scan_alerts(session, TODAY + timedelta(days=rng.randrange(1, 400)))


def test_summaries_equal_a_recount_after_random_changes(session: Session) -> None:
    _cohort(session)
    assert _open_alerts(session), "the cohort has open alerts to act on"
    assert summary_differences(session) == []
    rng = random.Random(22)
    for step in range(40):
        _step(session, rng, step)
        session.rollback()  # end any read transaction the step left open
        assert summary_differences(session) == [], step


@pytest.mark.postgres
def test_summaries_stay_exact_under_concurrent_writers(postgres_url: str) -> None:
    """Assessments, alert decisions and new visits on the same patients at once: each writer
    recomputes under the summary rows' locks, so no update is lost."""
    make = session_factory(postgres_url)
    with make() as session:
        lesion_ids = _cohort(session)
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        with make() as session:
            for step in range(12):
                try:
                    if seed % 3 == 0:
                        assess_lesions(session, rng.sample(lesion_ids, 10),
                                       TODAY + timedelta(days=rng.randrange(400)), chunk_size=5)
                    else:
                        _step(session, rng, seed * 100 + step)
                except (Conflict, DBAPIError):  # a deadlock the database broke: retried later
                    session.rollback()
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)
                    return
                session.rollback()

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with make() as session:
        assert summary_differences(session) == []


def _walk(session: Session, per_page: int, search: str = "") -> list[str]:
    out: list[str] = []
    after: str | None = None
    while True:
        page = patient_list(session, search=search, after=after, per_page=per_page)
        out += [r.external_id for r in page.items]
        if page.next_after is None:
            return out
        after = page.next_after


def _unpaged(session: Session, search: str = "") -> list[str]:
    """The list's order over a recount, in one query (no summary table, no paging)."""
    recount = summary_rows().subquery()
    query = select(recount.c.external_id).order_by(
        -recount.c.urgent, -recount.c.warning, -recount.c.info, recount.c.external_id)
    if search:
        query = query.where(recount.c.external_id.icontains(search))
    return list(session.scalars(query))


def test_keyset_pages_give_the_unpaged_rows_in_order(session: Session) -> None:
    _cohort(session)
    everyone = _unpaged(session)
    assert len(everyone) == 40
    for per_page in (1, 7, 40):
        assert _walk(session, per_page) == everyone
    assert _walk(session, 3, "dem") == _unpaged(session, "dem") != []
    first = patient_list(session, per_page=10)
    assert (first.total, first.total_exact) == (40, True)
    assert [r.external_id for r in first.items] == everyone[:10]
    assert patient_list(session, page=2, per_page=10).items == patient_list(
        session, after=first.next_after, per_page=10).items


def test_rows_changing_between_two_pages_are_neither_repeated_nor_skipped(
        session: Session) -> None:
    _cohort(session)
    first = patient_list(session, per_page=10)
    seen = [r.external_id for r in first.items]
    # between the two pages: a patient further down loses its alerts (moves down, still after
    # the first page), one on the first page loses its own (moves down, after the first page's
    # last row: the next pages show it where it is now), and a new patient comes in
    later = _unpaged(session)[20]
    on_first = next(r for r in first.items if r.urgent + r.warning + r.info)
    for pid in (later, on_first.external_id):
        for alert_id in session.scalars(select(Alert.id).join(Lesion).join(Patient).where(
                Patient.external_id == pid, Alert.state == AlertState.OPEN.value)):
            alerts.acknowledge_alert(session, alert_id, actor="t", reason="seen")
    data = json.dumps({"format": "lesion-timeline/1", "patients": [
        {**demo.document(TODAY)["patients"][0], "id": "NEW-1"}]}).encode()
    import_stream(session, PatientStream(io.BytesIO(data), today=TODAY), actor="t")
    rest: list[str] = []
    after = first.next_after
    while after is not None:
        page = patient_list(session, after=after, per_page=10)
        rest += [r.external_id for r in page.items]
        after = page.next_after
    now = _unpaged(session)
    # the next pages are the list as it is now, after the first page's last row: nothing
    # skipped, and no row that stayed where it was repeated
    assert rest == [pid for pid in now if _after(session, pid, first.items[-1])]
    assert set(seen) & set(rest) == {on_first.external_id}
    assert later in rest and "NEW-1" in now


def _after(session: Session, external_id: str, row: PatientRow) -> bool:
    """Whether a patient now sorts after a row of the list."""
    now = next(r for r in session.execute(summary_rows()) if r.external_id == external_id)
    return bool((-now.urgent, -now.warning, -now.info, now.external_id)
                > (-row.urgent, -row.warning, -row.info, row.external_id))


def test_a_long_list_counts_only_so_far(session: Session, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    """Past the count limit the total is a bound ("10+") or, on PostgreSQL, the planner's
    estimate ("about N"); never a count of everything."""
    _cohort(session)
    monkeypatch.setattr(paging, "COUNT_LIMIT", 10)
    page = patient_list(session, per_page=5)
    assert not page.total_exact and len(page.items) == 5
    if page.estimated:  # PostgreSQL, when its statistics know the table is larger
        assert page.total > 10 and page.total_text == f"about {page.total:,}"
    else:
        assert (page.total, page.total_text) == (11, "10+")
    assert patient_list(session, search="demo-00", per_page=5).total == 9  # DEMO-001..009
