"""The streaming bulk import on SQLite and PostgreSQL: chunks change nothing about the result,
one file is all or nothing, and concurrent imports serialise with a correct audit trail."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections import Counter
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from tracker import demo
from tracker.db import engine_for, session_factory
from tracker.errors import MAX_REPORTED_PROBLEMS, Conflict, InvalidInput
from tracker.export import export_timeline
from tracker.migrate import upgrade
from tracker.models import AuditEvent, Lesion, Observation, ObservationFeature, Patient
from tracker.services import import_turns
from tracker.services.imports import ImportSummary, import_stream
from tracker.timeline.stream import PatientStream

TODAY = date.today()
TABLES = (Patient, Lesion, Observation, ObservationFeature, AuditEvent)


def stream(doc: dict[str, Any] | bytes) -> PatientStream:
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return PatientStream(io.BytesIO(data), today=TODAY)


def cohort() -> dict[str, Any]:
    return demo.document(TODAY)


def counts(session: Session) -> dict[str, int]:
    return {t.__tablename__: session.scalar(select(func.count()).select_from(t)) or 0
            for t in TABLES}


def audit_kinds(session: Session) -> Counter[str]:
    return Counter(session.scalars(select(AuditEvent.action)))


def test_a_file_in_many_chunks_gives_what_one_chunk_gives(
    session: Session, tmp_path: Path
) -> None:
    doc = cohort()
    changed = json.loads(json.dumps(doc))
    changed["patients"][0]["sex"] = "M" if changed["patients"][0]["sex"] == "F" else "F"
    changed["patients"][2]["lesions"][0]["observations"][0]["note"] = "re-read"
    visits = changed["patients"][3]["lesions"][0]["observations"]
    new_day = (date.fromisoformat(visits[0]["date"]) - timedelta(days=1)).isoformat()
    visits.insert(0, {"date": new_day, "modality": "US", "visible": False})

    reference_url = f"sqlite:///{tmp_path}/reference.sqlite"
    upgrade(reference_url)
    with session_factory(reference_url)() as ref:
        ref_summaries = [import_stream(ref, stream(d), actor="t", chunk_patients=10_000)
                         for d in (doc, changed)]
        ref_export = export_timeline(ref)
        ref_audit = audit_kinds(ref)

    summaries = [import_stream(session, stream(d), actor="t", chunk_patients=2)
                 for d in (doc, changed)]
    assert [s.as_dict() for s in summaries] == [s.as_dict() for s in ref_summaries]
    assert summaries[1].patients_updated == 1 and summaries[1].observations_updated == 1
    assert summaries[1].observations_created == 1
    assert export_timeline(session) == ref_export
    assert audit_kinds(session) == ref_audit


def test_reimporting_an_unchanged_file_writes_nothing(session: Session) -> None:
    doc = cohort()
    first = import_stream(session, stream(doc), actor="t", chunk_patients=3)
    before = counts(session)
    versions = dict(session.execute(select(Lesion.id, Lesion.data_version)).tuples().all())
    again = import_stream(session, stream(doc), actor="t", chunk_patients=3)
    assert again == ImportSummary(observations_unchanged=first.observations_created)
    assert counts(session) == before
    session.expire_all()
    assert dict(session.execute(select(Lesion.id, Lesion.data_version)).tuples().all()) == versions


def test_an_invalid_last_patient_leaves_nothing_of_the_earlier_chunks(session: Session) -> None:
    doc = cohort()
    last = len(doc["patients"]) - 1
    doc["patients"][last]["lesions"][0]["observations"][0]["modality"] = "DX"
    with pytest.raises(InvalidInput) as exc:
        import_stream(session, stream(doc), actor="t", chunk_patients=2)
    assert [p.path for p in exc.value.problems] == [
        f"patients[{last}].lesions[0].observations[0].modality"]
    session.rollback()
    assert all(n == 0 for n in counts(session).values())


def test_a_last_patient_refused_by_what_is_stored_leaves_nothing(session: Session) -> None:
    site = {"compartment": "tendon", "region": "shoulder", "laterality": "left"}
    stored = {"format": "lesion-timeline/1", "patients": [{
        "id": "P-LAST", "birth_year": 1970, "lesions": [{"id": "L1", "site": site,
            "observations": [{"date": "2020-05-01", "modality": "XR", "size_mm": [9],
                              "density": "dense", "margin": "well_defined"}]}]}]}
    import_stream(session, stream(stored), actor="t")
    before = counts(session)
    doc = cohort()
    doc["patients"].append({"id": "P-LAST", "birth_year": 2021, "lesions": []})
    with pytest.raises(InvalidInput) as exc:
        import_stream(session, stream(doc), actor="t", chunk_patients=2)
    assert [str(p) for p in exc.value.problems] == [
        f"patients[{len(doc['patients']) - 1}].birth_year: 2021 is after the stored"
        " observation of 2020-05-01 (lesion L1)"]
    session.rollback()
    assert counts(session) == before


def test_broken_json_after_written_chunks_says_where_and_leaves_nothing(
    session: Session
) -> None:
    data = json.dumps(cohort(), indent=1).encode()
    with pytest.raises(InvalidInput) as exc:
        import_stream(session, stream(data[:-40]), actor="t", chunk_patients=2)
    (problem,) = exc.value.problems
    assert problem.path.startswith("line ") and "not valid JSON" in problem.message
    session.rollback()
    assert all(n == 0 for n in counts(session).values())


def test_a_patient_id_repeated_in_a_later_chunk_is_reported(session: Session) -> None:
    doc = cohort()
    doc["patients"].append(json.loads(json.dumps(doc["patients"][0])))
    with pytest.raises(InvalidInput) as exc:
        import_stream(session, stream(doc), actor="t", chunk_patients=2)
    pid = doc["patients"][0]["id"]
    assert [str(p) for p in exc.value.problems] == [
        f'patients[{len(doc["patients"]) - 1}].id: "{pid}" is used by patients[0] too']
    session.rollback()
    assert counts(session)["patients"] == 0


def test_a_file_with_very_many_problems_lists_the_first_and_counts_the_rest(
    session: Session
) -> None:
    doc = {"format": "lesion-timeline/1",
           "patients": [{"id": f"P{i}", "sex": "Q", "lesions": []} for i in range(150)]}
    with pytest.raises(InvalidInput) as exc:
        import_stream(session, stream(doc), actor="t", chunk_patients=7)
    problems = exc.value.problems
    assert len(problems) == MAX_REPORTED_PROBLEMS
    assert problems[0].path == "patients[0].sex"
    assert exc.value.total == 150
    assert exc.value.omitted_note == (f"150 problems in all; only the first "
                                      f"{MAX_REPORTED_PROBLEMS} are listed")


def test_document_keys_after_the_patients_are_still_checked(session: Session) -> None:
    data = (b'{"patients": [{"id": "P1", "lesions": []}], "format": "lesion-timeline/2",'
            b' "colour": 1}')
    with pytest.raises(InvalidInput) as exc:
        import_stream(session, stream(data), actor="t")
    assert [p.path for p in exc.value.problems] == ["colour", "format"]
    session.rollback()
    assert counts(session)["patients"] == 0


# --------------------------------------------------------------------------- concurrency


def _parallel(url: str, docs: list[dict[str, Any]]) -> tuple[list[ImportSummary], list[Exception]]:
    """Each document imported by its own thread and session, all started at once."""
    start = threading.Barrier(len(docs))
    results: list[ImportSummary] = []
    errors: list[Exception] = []

    def run(doc: dict[str, Any]) -> None:
        with session_factory(url)() as s:
            start.wait()
            try:
                results.append(import_stream(s, stream(doc), actor="t", chunk_patients=3))
            except Exception as exc:  # the assertion below shows it
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(d,)) for d in docs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "an import did not finish"
    return results, errors


@pytest.mark.postgres
def test_concurrent_imports_of_the_same_new_patients_all_succeed(postgres_url: str) -> None:
    doc = cohort()
    results, errors = _parallel(postgres_url, [doc] * 4)
    assert errors == []
    assert len(results) == 4
    n_patients = len(doc["patients"])
    n_obs = sum(len(le["observations"]) for p in doc["patients"] for le in p["lesions"])
    assert sum(r.patients_created for r in results) == n_patients
    assert sum(r.observations_created for r in results) == n_obs
    assert sum(r.observations_unchanged for r in results) == 3 * n_obs
    with session_factory(postgres_url)() as s:
        assert counts(s)["patients"] == n_patients
        kinds = audit_kinds(s)
        assert kinds["patient.import"] == n_patients and kinds["observation.import"] == n_obs
        assert set(s.scalars(select(Lesion.data_version))) == {1}



def readings(doc: dict[str, Any], n: int, *, without_pain: bool = False) -> list[dict[str, Any]]:
    """`n` copies of `doc` that change every observation (its note says which reading it is;
    `without_pain` also clears the pain score), for imports that overlap on the same rows."""
    variants = []
    for k in range(n):
        v = json.loads(json.dumps(doc))
        for p in v["patients"]:
            for le in p["lesions"]:
                for o in le["observations"]:
                    o["note"] = f"reading {k}"
                    if without_pain:
                        o.pop("pain", None)
        variants.append(v)
    return variants

@pytest.mark.postgres
def test_concurrent_imports_updating_the_same_rows_audit_every_before_once(
    postgres_url: str
) -> None:
    doc = cohort()
    with session_factory(postgres_url)() as s:
        import_stream(s, stream(doc), actor="t")
    variants = readings(doc, 4, without_pain=True)
    results, errors = _parallel(postgres_url, variants)
    assert errors == [] and len(results) == 4
    n_obs = sum(len(le["observations"]) for p in doc["patients"] for le in p["lesions"])
    with session_factory(postgres_url)() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "observation.update")
                           .order_by(AuditEvent.id)).all()
        notes = dict(s.execute(select(Observation.id, Observation.note)).tuples().all())
        versions = set(s.scalars(select(Lesion.data_version)))
    by_row: dict[int | None, list[AuditEvent]] = {}
    for e in events:
        by_row.setdefault(e.target_id, []).append(e)
    assert len(by_row) == n_obs
    for row_id, chain in by_row.items():
        assert len(chain) == 4
        befores = [json.dumps(e.before, sort_keys=True) for e in chain]
        assert len(set(befores)) == 4, befores  # never two updates from one before value
        for prev, nxt in pairwise(chain):
            assert nxt.before == prev.after
        assert chain[-1].after is not None and notes[row_id] == chain[-1].after["note"]
    assert versions == {5}  # one increment per import, none lost


@pytest.mark.postgres
def test_concurrent_imports_of_the_same_patients_in_opposite_orders_both_succeed(
    postgres_url: str
) -> None:
    """Files list patients in any order; two imports at once must not deadlock (one of them
    would be refused): they take turns, and the second finds the first's rows."""
    doc = cohort()
    with session_factory(postgres_url)() as s:
        import_stream(s, stream(doc), actor="t")
    forward = json.loads(json.dumps(doc))
    backward = {**forward, "patients": forward["patients"][::-1]}
    for p in forward["patients"]:
        for le in p["lesions"]:
            for o in le["observations"]:
                o["note"] = "second reading"
    results, errors = _parallel(postgres_url, [forward, backward])
    assert errors == [] and len(results) == 2
    with session_factory(postgres_url)() as s:
        assert counts(s)["patients"] == len(doc["patients"])


@pytest.mark.postgres
def test_an_import_waits_a_bounded_time_for_another_then_says_so(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_turns, "IMPORT_WAIT_SECONDS", 1)
    with engine_for(postgres_url).connect() as other:  # an import that is still running
        other.execute(select(func.pg_advisory_xact_lock(import_turns.IMPORT_LOCK)))
        with session_factory(postgres_url)() as s, pytest.raises(Conflict) as exc:
            import_stream(s, stream(cohort()), actor="t")
        other.rollback()
    assert "another import has been running for over 1 s; nothing was imported" in str(exc.value)
    with session_factory(postgres_url)() as s:
        assert counts(s)["patients"] == 0
        assert import_stream(s, stream(cohort()), actor="t").patients_created > 0


def test_null_means_absent_in_a_streamed_file(session: Session) -> None:
    doc = cohort()
    doc["patients"] = doc["patients"][:2]
    with_nulls = json.loads(json.dumps(doc))
    with_nulls["patients"][0]["sex"] = None
    del doc["patients"][0]["sex"]
    lesion = with_nulls["patients"][1]["lesions"][0]
    lesion["event_date"] = None
    lesion["observations"][0]["note"] = None
    doc["patients"][1]["lesions"][0].pop("event_date", None)
    doc["patients"][1]["lesions"][0]["observations"][0].pop("note", None)
    import_stream(session, stream(with_nulls), actor="t")
    again = import_stream(session, stream(doc), actor="t")
    assert again.observations_updated == 0 and again.lesions_updated == 0
    assert again.patients_updated == 0


def test_the_streamed_reader_nests_exactly_as_deep_as_the_whole_document_reader() -> None:
    """One limit: a value at the limit is read (then refused by the format, not the nesting),
    one level deeper is refused at the same path by both readers."""
    from tracker.timeline.reader import MAX_JSON_DEPTH, unstorable_problems

    def doc(extra: int) -> dict[str, Any]:
        value: Any = 1
        for _ in range(MAX_JSON_DEPTH - 3 + extra):  # patients[0].x is depth 3
            value = [value]
        return {"format": "lesion-timeline/1", "patients": [{"id": "P-1", "x": value}]}

    at_limit = stream(doc(0))
    assert list(at_limit) == []
    assert at_limit.problems and "nested" not in str(at_limit.problems.kept)
    whole = unstorable_problems(json.loads(json.dumps(doc(1))))
    with pytest.raises(InvalidInput) as err:
        list(stream(doc(1)))
    assert err.value.problems == whole
    assert whole[0].path == "patients[0].x" + "[0]" * (MAX_JSON_DEPTH - 2)


@pytest.mark.postgres
def test_overlapping_imports_with_their_stamps_all_succeed_without_a_traceback(
    postgres_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture
) -> None:
    """Imports of the same patients overlapping, each queueing its assessments after its commit
    as the CLI and the API do: the sender's stamp of the finished import must not deadlock with
    the next import's row locks (it once made 8 of 44 refused, and printed a traceback)."""
    from workers import dispatch

    monkeypatch.setenv("DATABASE_URL", postgres_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    doc = cohort()
    with session_factory(postgres_url)() as s:
        import_stream(s, stream(doc), actor="t")
    variants = readings(doc, 8)
    failures: list[BaseException] = []
    start = threading.Barrier(4)

    def run(docs: list[dict[str, Any]]) -> None:
        start.wait()
        for d in docs:
            try:
                with session_factory(postgres_url)() as s:
                    summary = import_stream(s, stream(d), actor="t", chunk_patients=3)
                assert dispatch.request_assessment(summary.changed_lesion_ids) \
                    == len(summary.changed_lesion_ids)
            except BaseException as exc:
                failures.append(exc)

    threads = [threading.Thread(target=run, args=(variants[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert failures == []
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    with session_factory(postgres_url)() as s:
        assert set(s.scalars(select(Lesion.data_version))) == {9}


@pytest.mark.postgres
def test_an_import_that_deadlocks_with_the_worker_is_retried(postgres_url: str) -> None:
    """The assessment worker locks single lesions in its own order: holding the import's last
    lesion and then asking for its first deadlocks them, and PostgreSQL undoes the import. The
    import is read again and stored (it was refused, or answered 503), the worker's work too."""
    doc = cohort()
    with session_factory(postgres_url)() as s:
        import_stream(s, stream(doc), actor="t")
        first, last = s.scalar(select(func.min(Lesion.id))), s.scalar(select(func.max(Lesion.id)))
    changed = json.loads(json.dumps(doc))
    for p in changed["patients"]:
        for le in p["lesions"]:
            le["observations"][0]["note"] = "re-read"
    holding, done = threading.Event(), threading.Event()
    worker_errors: list[BaseException] = []

    def worker() -> None:
        try:
            with session_factory(postgres_url)() as w:
                lock = select(Lesion.id).with_for_update(key_share=True)
                w.execute(lock.where(Lesion.id == last))
                holding.set()
                waiting = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                               "'Lock' AND datname = current_database()")
                with session_factory(postgres_url)() as probe:  # its own snapshots
                    while not probe.scalar(waiting):  # until the import waits for `last`
                        probe.rollback()
                        time.sleep(0.02)
                w.execute(lock.where(Lesion.id == first))
                w.commit()
        except BaseException as exc:
            worker_errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=worker)
    thread.start()
    holding.wait(10)
    with session_factory(postgres_url)() as s:
        summary = import_stream(s, stream(changed), actor="t")
    thread.join(30)
    assert worker_errors == []
    assert summary.observations_updated == sum(len(p["lesions"]) for p in doc["patients"])
    with session_factory(postgres_url)() as s:
        assert s.scalar(select(func.count()).select_from(Observation)
                        .where(Observation.note == "re-read")) == summary.observations_updated
