"""Import a converted document (DICOM SR, CSV) through the same validation and merge as
`tracker import`.

A converter knows only what its file says: a measurement-only SR has no compartment, entity or
morphology. Before validation, what the file does not say is taken from what is stored for the
same patient, lesion and visit, so importing a report never erases a diagnosis or a morphology
a radiologist completed, and importing the same file twice changes nothing.
"""

from __future__ import annotations

import copy
import dataclasses
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from tracker.errors import InvalidInput, Problem
from tracker.export import (
    lesion_snapshot,
    observation_snapshot,
    patient_snapshot,
    treatment_snapshot,
)
from tracker.interop import csv_rows
from tracker.interop.converted import Converted
from tracker.interop.sr_problems import ProblemKind, SrProblem
from tracker.models import CsvRejects, Lesion, Observation, Patient, User
from tracker.services.imports import ImportSummary, import_timeline
from tracker.timeline.models import Timeline
from tracker.timeline.reader import validate_timeline

PATIENT_KEPT = ("birth_year", "sex")
LESION_KEPT = ("entity", "event_date", "event_kind", "treatments")
SITE_KEPT = ("compartment", "structure")
OBSERVATION_KEPT = ("features", "pain", "note", "study_uid", "accession")
MORPHOLOGY_KEPT = ("density", "margin", "texture", "pattern")  # only onto a visible finding


def _stored(session: Session, ids: list[str]) -> dict[str, Patient]:
    return {
        p.external_id: p
        for p in session.scalars(
            select(Patient).where(Patient.external_id.in_(ids)).options(
                selectinload(Patient.lesions).options(
                    selectinload(Lesion.observations).selectinload(Observation.feature_rows),
                    selectinload(Lesion.treatments))))
    }


def _fill(target: dict[str, Any], stored: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if target.get(key) is None and stored.get(key) is not None:
            target[key] = copy.deepcopy(stored[key])


def complete_from_stored(session: Session, document: dict[str, Any]) -> dict[str, Any]:
    """A copy of `document` where every field it leaves out is the stored value."""
    doc = copy.deepcopy(document)
    patients = [p for p in doc.get("patients", []) if isinstance(p, dict)]
    stored = _stored(session, [str(p.get("id")) for p in patients])
    for patient_in in patients:
        patient = stored.get(str(patient_in.get("id")))
        if patient is None:
            continue
        _fill(patient_in, patient_snapshot(patient), PATIENT_KEPT)
        lesions = {le.external_id: le for le in patient.lesions}
        for lesion_in in patient_in.get("lesions", []):
            lesion = lesions.get(lesion_in.get("id"))
            if lesion is None:
                continue
            snap = lesion_snapshot(lesion)
            if lesion.treatments:
                snap.setdefault("treatments", [treatment_snapshot(t) for t in lesion.treatments])
            _fill(lesion_in, snap, LESION_KEPT)
            _fill(lesion_in.setdefault("site", {}), snap["site"], SITE_KEPT)
            visits = {o.date.isoformat(): o for o in lesion.observations}
            for obs_in in lesion_in.get("observations", []):
                row = visits.get(obs_in.get("date"))
                if row is None:
                    continue
                obs = observation_snapshot(row)
                _fill(obs_in, obs, OBSERVATION_KEPT)
                if obs_in.get("visible", True) is not False:
                    _fill(obs_in, obs, MORPHOLOGY_KEPT)
    return doc


def _located(converted: Converted, problems: list[Problem]) -> list[Problem]:
    """Validation paths point into a document nobody wrote: name the file/line they came from."""
    out = []
    for p in problems:
        origin = converted.origin_of_path(p.path)
        out.append(dataclasses.replace(p, path=f"{origin} ({p.path})") if origin else p)
    return out


def prepare(session: Session, converted: Converted, *, today: date,
            compartment_hint: str = "") -> tuple[dict[str, Any], Timeline]:
    """The completed document and its validated timeline, or InvalidInput naming origins."""
    doc = complete_from_stored(session, converted.document)
    problems: list[Problem] = []
    for pi, patient in enumerate(doc["patients"]):
        for li, lesion in enumerate(patient["lesions"]):
            if "compartment" not in lesion.get("site", {}):
                problems.append(SrProblem(
                    f"patients[{pi}].lesions[{li}].site.compartment",
                    f"lesion {lesion['id']}: the compartment is not known{compartment_hint}",
                    ProblemKind.COMPARTMENT,
                    converted.subjects.get((patient["id"], lesion["id"]), "")))
    if problems:
        raise InvalidInput(_located(dataclasses.replace(converted, document=doc), problems))
    try:
        timeline = validate_timeline(doc, today=today)
    except InvalidInput as exc:
        raise InvalidInput(_located(dataclasses.replace(converted, document=doc),
                                    exc.problems)) from exc
    return doc, timeline


def import_converted(session: Session, converted: Converted, *, actor: str, today: date,
                     compartment_hint: str = "") -> ImportSummary:
    """Complete, validate whole and merge in one transaction, exactly like `tracker import`."""
    _, timeline = prepare(session, converted, today=today, compartment_hint=compartment_hint)
    try:
        return import_timeline(session, timeline, actor=actor)
    except InvalidInput as exc:
        raise InvalidInput(_located(converted, exc.problems)) from exc


@contextmanager
def commit_deferred(session: Session) -> Iterator[None]:
    """Inside: each chunk's commit only flushes, so many chunks make one transaction."""
    session.commit = session.flush  # type: ignore[method-assign]
    try:
        yield
    finally:
        del session.commit  # back to the class's method


def import_chunks(session: Session, chunks: Iterable[Converted], *, actor: str,
                  today: date) -> ImportSummary:
    """Import documents one after the other in ONE transaction: all of them or nothing.

    Flushed rows are only weakly held by the session, so memory follows one chunk, not the
    file; each chunk is checked against what the previous ones wrote."""
    total = ImportSummary()
    with commit_deferred(session):
        for converted in chunks:
            total.add(import_converted(session, converted, actor=actor, today=today))
    session.commit()
    total.changed_lesion_ids = sorted(set(total.changed_lesion_ids))
    return total


@dataclass
class CsvUpload:
    """What a CSV upload did: `summary` is None when nothing was imported."""

    summary: ImportSummary | None
    problems: list[Problem]
    bad_rows: int


def import_csv_text(session: Session, text: str, *, filename: str, user_id: int,
                    skip_bad: bool, actor: str, today: date) -> CsvUpload:
    """A CSV file uploaded on the web, imported like `tracker import-csv`.

    Pass one checks every row and writes no record (a bad header raises InvalidInput); the
    bad rows become this person's rejects, committed first so that they can be downloaded
    whatever the import does. Pass two imports the good rows in one transaction, unless a row
    was bad and `skip_bad` is off: then nothing is imported."""
    def rows() -> Iterator[csv_rows.Row]:
        return csv_rows.read_rows(io.StringIO(text, newline=""), today=today)

    out = io.StringIO()
    try:
        problems, bad = csv_rows.check(rows(), out)
    except InvalidInput:
        keep_rejects(session, user_id, filename, 0, "")  # this upload had no rows to reject
        raise
    keep_rejects(session, user_id, filename, bad, out.getvalue())
    if bad and not skip_bad:
        return CsvUpload(None, problems, bad)
    summary = import_chunks(session, csv_rows.documents(rows()), actor=actor, today=today)
    return CsvUpload(summary, problems, bad)


def keep_rejects(session: Session, user_id: int, filename: str, rows: int,
                 content: str) -> None:
    """Replace a person's rejects with these (none when `rows` is 0), under their user row's
    lock so that two uploads at once leave the later one."""
    session.execute(select(User.id).where(User.id == user_id).with_for_update())
    session.execute(delete(CsvRejects).where(CsvRejects.user_id == user_id))
    if rows:
        session.add(CsvRejects(user_id=user_id, filename=filename[:255], rows=rows,
                               content=content))
    session.commit()


def rejects_of(session: Session, user_id: int) -> CsvRejects | None:
    """The rejects of a person's last CSV upload, if it had any."""
    return session.get(CsvRejects, user_id)
