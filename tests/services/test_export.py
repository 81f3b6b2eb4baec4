"""The backup export, streamed patient by patient: the same text as the whole document."""

from __future__ import annotations

import io
import json
import sqlite3
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from testkit.factories import make_lesion, make_patient, obs
from tracker import demo
from tracker.db import session_factory
from tracker.errors import Conflict, InvalidInput, NotFound
from tracker.export import export_text, export_timeline, patient_documents
from tracker.migrate import upgrade
from tracker.models import Lesion, Patient
from tracker.services import identity, imports, records
from tracker.services.imports import import_timeline
from tracker.timeline.reader import validate_timeline
from tracker.timeline.stream import PatientStream


def test_streamed_export_is_the_whole_document_byte_for_byte(session: Session) -> None:
    assert "".join(export_text(session)) == json.dumps(export_timeline(session), indent=2)
    doc = demo.document(date.today())
    import_timeline(session, validate_timeline(doc, today=date.today()), actor="t")
    whole = export_timeline(session)
    assert len(whole["patients"]) == len(doc["patients"]) > 3
    assert "".join(export_text(session)) == json.dumps(whole, indent=2, ensure_ascii=False)
    # loaded a few patients at a time, nothing lost or repeated at the chunk edges
    for chunk in (1, 2, 3, len(doc["patients"])):
        assert list(patient_documents(session, chunk=chunk)) == whole["patients"], chunk


@pytest.mark.postgres
def test_exports_during_merges_splits_imports_and_deletes_are_each_one_snapshot(
    postgres_url: str, tmp_path: Path
) -> None:
    """Exports in a loop (a few patients loaded at a time) while other threads merge, split,
    import and delete on PostgreSQL: each export is one moment of the database. A patient's
    merges and splits only move its observations, so its count is the same in every export
    (a split read halfway once lost them; a merge read halfway wrote a lesion with none), and
    every export imports again into an empty database."""
    churned, trimmed = "A", "B"
    with session_factory(postgres_url)() as s:
        for group in (churned, trimmed):
            for n in range(12):
                patient = make_patient(s, f"{group}-{n:02d}")
                for j in range(3):
                    make_lesion(s, patient=patient, external_id=f"L{j}", commit=False,
                                observations=[obs(f"202{j}-{m + 1:02d}-10", 10 + m)
                                              for m in range(4)])
        s.commit()
    stop = threading.Event()
    failures: list[BaseException] = []

    def churn(step: Callable[[Session, int], None]) -> Callable[[], None]:
        def loop() -> None:
            n = 0
            with session_factory(postgres_url)() as s:
                while not stop.wait(0.002):  # leave the exporter its share of the GIL
                    n += 1
                    try:
                        step(s, n)
                    except (Conflict, NotFound, InvalidInput):
                        s.rollback()  # e.g. a lesion merged away meanwhile: the next one
                    except BaseException as exc:
                        failures.append(exc)
                        return
        return loop

    def lesions_of(s: Session, patient: str) -> list[tuple[int, list[int]]]:
        """(lesion id, its observation ids by date), as committed now."""
        s.rollback()
        found = [(le.id, [o.id for o in sorted(le.observations, key=lambda o: o.date)])
                 for le in s.scalars(select(Lesion).join(Patient)
                                     .where(Patient.external_id == patient)
                                     .options(selectinload(Lesion.observations))
                                     .order_by(Lesion.id))]
        s.rollback()
        return found

    def merge(s: Session, n: int) -> None:
        lesions = lesions_of(s, f"{churned}-{n % 12:02d}")
        if len(lesions) > 1:
            identity.merge_lesions(s, lesions[0][0], lesions[-1][0], prefer={}, actor="t",
                                   reason="one deposit")

    def split(s: Session, n: int) -> None:
        lesion, seen = max(lesions_of(s, f"{churned}-{n * 7 % 12:02d}"),
                           key=lambda le: len(le[1]))
        if len(seen) > 1:
            identity.split_lesion(s, lesion, seen[len(seen) // 2:], new_external_id=f"S{n}",
                                  actor="t", reason="two deposits")

    def delete(s: Session, n: int) -> None:
        for _lesion, seen in lesions_of(s, f"{trimmed}-{n % 12:02d}"):
            if len(seen) > 1:
                records.delete_observation(s, seen[-1], actor="t")
                return

    def add(s: Session, n: int) -> None:
        if n > 30:
            stop.wait()
            return
        doc = {"format": "lesion-timeline/1", "patients": [
            {"id": f"C-{n:04d}", "lesions": [{"id": "L0", "site": {
                "compartment": "tendon", "region": "shoulder", "laterality": "left"},
                "observations": [{"date": "2024-01-10", "modality": "XR", "size_mm": [9.0]}]}]}]}
        imports.import_stream(s, PatientStream(io.BytesIO(json.dumps(doc).encode()),
                                               today=date.today()), actor="t")

    empty = tmp_path / "empty.sqlite"
    upgrade(f"sqlite:///{empty}")
    threads = [threading.Thread(target=churn(step)) for step in (merge, split, delete, add)]
    for t in threads:
        t.start()
    try:
        for round_ in range(5):
            with session_factory(postgres_url)() as s:
                doc = json.loads("".join(export_text(s, chunk=3)))
            counts = {p["id"]: sum(len(le["observations"]) for le in p["lesions"])
                      for p in doc["patients"] if p["id"].startswith(churned)}
            assert set(counts.values()) == {12}, (round_, counts)
            copy = tmp_path / f"restore{round_}.sqlite"
            with sqlite3.connect(empty) as src, sqlite3.connect(copy) as dst:
                src.backup(dst)
            with session_factory(f"sqlite:///{copy}")() as s:
                summary = imports.import_stream(s, PatientStream(
                    io.BytesIO(json.dumps(doc).encode()), today=date.today()), actor="t")
            assert summary.patients_created == len(doc["patients"])
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not failures, failures
