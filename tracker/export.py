"""Stored rows as the lesion-timeline/1 format writes them: the audit snapshots, the API's
observation entries and the backup export share these shapes (read side: no writes)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker.db import read_snapshot
from tracker.errors import NotFound
from tracker.models import Lesion, Observation, Patient, Treatment
from tracker.timeline.models import FORMAT
from tracker.vocabulary import TreatmentKind

OBSERVATION_COLUMNS = ("date", "modality", "visible", "size1_mm", "size2_mm", "size3_mm",
                       "density", "margin", "texture", "pattern", "pain", "study_uid",
                       "accession", "note")
LESION_COLUMNS = ("compartment", "region", "structure", "laterality", "entity", "event_date",
                  "event_kind")
TREATMENT_COLUMNS = ("date", "kind", "note")


def observation_snapshot(obs: Observation) -> dict[str, Any]:
    """An observation as the timeline format writes it (canonical: defaults left out)."""
    return observation_snapshot_of({k: getattr(obs, k) for k in OBSERVATION_COLUMNS},
                                   obs.features)


def observation_snapshot_of(columns: Mapping[str, Any], features: Sequence[str]) -> dict[str, Any]:
    """The same from column values and features in vocabulary order (the bulk import)."""
    out: dict[str, Any] = {"date": columns["date"].isoformat(), "modality": columns["modality"]}
    if not columns["visible"]:
        out["visible"] = False
    sizes = [s for s in (columns["size1_mm"], columns["size2_mm"], columns["size3_mm"])
             if s is not None]
    if sizes:
        out["size_mm"] = sizes
    for key in ("density", "margin", "texture", "pattern"):
        if columns[key] is not None:
            out[key] = columns[key]
    if features:
        out["features"] = list(features)
    if columns["pain"] is not None:
        out["pain"] = columns["pain"]
    for key in ("study_uid", "accession", "note"):
        if columns[key] is not None:
            out[key] = columns[key]
    return out


def treatment_snapshot(row: Treatment) -> dict[str, Any]:
    """A treatment as the timeline format writes it."""
    return treatment_snapshot_of({k: getattr(row, k) for k in TREATMENT_COLUMNS})


def treatment_snapshot_of(columns: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"date": columns["date"].isoformat(), "kind": columns["kind"]}
    if columns["note"] is not None:
        out["note"] = columns["note"]
    return out


_TREATMENT_ORDER = {k.value: i for i, k in enumerate(TreatmentKind)}


def treatment_order(columns: Mapping[str, Any]) -> tuple[date, int]:
    """Treatments are written by date, then kind in vocabulary order (one per kind a day)."""
    return columns["date"], _TREATMENT_ORDER.get(columns["kind"], len(_TREATMENT_ORDER))


def lesion_snapshot(lesion: Lesion) -> dict[str, Any]:
    return lesion_snapshot_of(lesion.external_id,
                              {k: getattr(lesion, k) for k in LESION_COLUMNS})


def lesion_snapshot_of(external_id: str, columns: Mapping[str, Any]) -> dict[str, Any]:
    site: dict[str, Any] = {"compartment": columns["compartment"], "region": columns["region"]}
    if columns["structure"] is not None:  # the format's key order, so an export reads as written
        site["structure"] = columns["structure"]
    site["laterality"] = columns["laterality"]
    out: dict[str, Any] = {"id": external_id, "site": site}
    if columns["entity"] is not None:
        out["entity"] = columns["entity"]
    if columns["event_date"] is not None:
        out["event_date"] = columns["event_date"].isoformat()
    if columns["event_kind"] is not None:
        out["event_kind"] = columns["event_kind"]
    return out


def patient_snapshot(patient: Patient) -> dict[str, Any]:
    return patient_snapshot_of(patient.external_id, patient.birth_year, patient.sex)


def patient_snapshot_of(external_id: str, birth_year: int | None, sex: str | None
                        ) -> dict[str, Any]:
    out: dict[str, Any] = {"id": external_id}
    if birth_year is not None:
        out["birth_year"] = birth_year
    if sex is not None:
        out["sex"] = sex
    return out


def _treatments_json(lesion: Lesion) -> dict[str, Any]:
    """`treatments` by date then kind, and no key at all when there are none (format spec)."""
    if not lesion.treatments:
        return {}
    rows = sorted(({k: getattr(t, k) for k in TREATMENT_COLUMNS} for t in lesion.treatments),
                  key=treatment_order)
    return {"treatments": [treatment_snapshot_of(r) for r in rows]}


EXPORT_CHUNK = 200  # patients loaded (with everything) at a time by a streamed export


def _patient_json(p: Patient) -> dict[str, Any]:
    return {
        **patient_snapshot(p),
        "lesions": [
            {
                **lesion_snapshot(lesion),
                **_treatments_json(lesion),
                "observations": [observation_snapshot(o) for o in lesion.observations],
            }
            for lesion in p.lesions
        ],
    }


def patient_documents(session: Session, patient_external_id: str | None = None,
                      chunk: int = EXPORT_CHUNK) -> Iterator[dict[str, Any]]:
    """Each stored patient as lesion-timeline/1 writes it, in id order, `chunk` patients
    loaded at a time: memory follows the chunk, not the database (the session's identity map
    holds its unchanged rows weakly, so a written chunk is let go). Every chunk is read from
    one snapshot (`read_snapshot`: the caller's, or one that ends the session's transaction),
    so a merge, split, import or deletion committed meanwhile is in the export whole or not at
    all: a backup is one moment of the database, and it imports again."""
    with read_snapshot(session):
        yield from _patient_chunks(session, patient_external_id, chunk)


def _patient_chunks(session: Session, patient_external_id: str | None, chunk: int
                    ) -> Iterator[dict[str, Any]]:
    last: str | None = None
    while True:
        query = (
            select(Patient)
            .order_by(Patient.external_id)
            .limit(chunk)
            .options(
                selectinload(Patient.lesions).options(
                    selectinload(Lesion.observations).selectinload(Observation.feature_rows),
                    selectinload(Lesion.treatments),
                )
            )
        )
        if patient_external_id is not None:
            query = query.where(Patient.external_id == patient_external_id)
        if last is not None:
            query = query.where(Patient.external_id > last)
        patients = list(session.scalars(query))
        if not patients and last is None and patient_external_id is not None:
            raise NotFound(f"patient {patient_external_id} does not exist")
        for p in patients:
            yield _patient_json(p)
        if len(patients) < chunk:
            return
        last = patients[-1].external_id


def export_timeline(session: Session, patient_external_id: str | None = None) -> dict[str, Any]:
    """The stored record as lesion-timeline/1: the backup format (import gives it back). Whole
    in memory: for one patient; `export_text` streams the whole database."""
    return {"format": FORMAT,
            "patients": list(patient_documents(session, patient_external_id))}


def export_text(session: Session, chunk: int = EXPORT_CHUNK,
                seen: Callable[[dict[str, Any]], None] | None = None) -> Iterator[str]:
    """Every patient as lesion-timeline/1 text, piece by piece: exactly what
    `json.dumps(export_timeline(session), indent=2, ensure_ascii=False)` gives, without holding
    the document; read from one snapshot. `seen` is shown each patient as it is written (the
    CLI judges whether it would import again)."""
    patients = patient_documents(session, chunk=chunk)
    if seen is not None:
        patients = _shown(patients, seen)
    first = next(patients, None)
    if first is None:
        yield json.dumps({"format": FORMAT, "patients": []}, indent=2, ensure_ascii=False)
        return
    yield '{\n  "format": ' + json.dumps(FORMAT) + ',\n  "patients": [\n'
    for n, patient in enumerate(itertools.chain([first], patients)):
        text = json.dumps(patient, indent=2, ensure_ascii=False).replace("\n", "\n    ")
        yield ("" if n == 0 else ",\n") + "    " + text
    yield "\n  ]\n}"


def _shown(patients: Iterator[dict[str, Any]], seen: Callable[[dict[str, Any]], None]
           ) -> Iterator[dict[str, Any]]:
    for patient in patients:
        seen(patient)
        yield patient
