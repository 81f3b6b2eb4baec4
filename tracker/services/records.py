"""The only writer of patients, lesions and observations.

Each public function is one use case and one transaction: it takes the caller's Session, writes
the change, its audit event and the lesion's outbox mark (`assessment_due_at`), and commits once.
Callers send the assessment task after the commit (the mark makes a lost task harmless: the
sweep re-sends it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from tracker.errors import Conflict, InvalidInput, NotFound, Problem
from tracker.models import (
    AuditEvent,
    Lesion,
    Observation,
    ObservationFeature,
    Patient,
    Treatment,
)
from tracker.timeline import ObservationIn, Site
from tracker.vocabulary import TreatmentKind

SYSTEM_ACTOR = "system"


def now() -> datetime:
    return datetime.now().astimezone()


def audit(
    session: Session,
    actor: str,
    action: str,
    target_type: str,
    target_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add an audit event to the caller's transaction (so it commits or rolls back with it)."""
    session.add(
        AuditEvent(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before=before,
            after=after,
            at=now(),
        )
    )


def mark_for_assessment(lesion: Lesion) -> None:
    """The outbox mark: this lesion's data changed and its stored assessment is stale.

    The version is incremented in SQL, not in Python, so two writers on one lesion at once
    cannot both write N+1 (the later assessment would then look current while missing one).
    """
    if lesion.id is None:  # not inserted yet: there is no stored version to race on
        lesion.data_version = 1
    else:
        lesion.data_version = Lesion.data_version + 1
    lesion.assessment_due_at = now()


# --------------------------------------------------------------------------- snapshots


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
    """The same from stored column values and features in vocabulary order (bulk import)."""
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
    return columns["date"], _TREATMENT_ORDER[columns["kind"]]


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


# --------------------------------------------------------------------------- field copying


def observation_columns(obs: ObservationIn) -> dict[str, Any]:
    sizes: list[float | None] = [*(obs.size_mm or []), None, None, None]
    return {
        "date": obs.date,
        "modality": obs.modality.value,
        "visible": obs.visible,
        "size1_mm": sizes[0],
        "size2_mm": sizes[1],
        "size3_mm": sizes[2],
        "density": obs.density.value if obs.density else None,
        "margin": obs.margin.value if obs.margin else None,
        "texture": obs.texture.value if obs.texture else None,
        "pattern": obs.pattern.value if obs.pattern else None,
        "pain": obs.pain,
        "study_uid": obs.study_uid,
        "accession": obs.accession,
        "note": obs.note,
    }


def _apply_observation(row: Observation, obs: ObservationIn) -> None:
    for key, value in observation_columns(obs).items():
        setattr(row, key, value)
    row.feature_rows = [ObservationFeature(feature=f.value) for f in dict.fromkeys(obs.features)]


def site_columns(site: Site) -> dict[str, Any]:
    return {
        "compartment": site.compartment.value,
        "region": site.region.value,
        "structure": site.structure,
        "laterality": site.laterality.value,
    }


# --------------------------------------------------------------------------- loading


def load_lesion(session: Session, lesion_id: int) -> Lesion:
    """A lesion with its patient and observations (and their features) loaded."""
    lesion = session.scalar(
        select(Lesion)
        .where(Lesion.id == lesion_id)
        .options(
            selectinload(Lesion.patient),
            selectinload(Lesion.observations).selectinload(Observation.feature_rows),
        )
    )
    if lesion is None:
        raise NotFound(f"lesion {lesion_id} does not exist")
    return lesion


def _check_against_lesion(lesion: Lesion, obs: ObservationIn, path: str = "") -> None:
    """What the observation alone cannot know: birth year and event date of its lesion."""
    problems: list[Problem] = []
    where = f"{path}.date" if path else "date"
    by = lesion.patient.birth_year
    if by is not None and obs.date.year < by:
        problems.append(Problem(where, f"{obs.date} is before the patient's birth year {by}"))
    if lesion.event_date is not None and obs.date < lesion.event_date:
        problems.append(
            Problem(where, f"{obs.date} is before the lesion's event_date {lesion.event_date}")
        )
    if problems:
        raise InvalidInput(problems)


# --------------------------------------------------------------------------- use cases


@contextmanager
def _one_visit_per_day(session: Session, lesion: Lesion, day: date) -> Iterator[None]:
    """Two writers racing past the same-day check meet the unique constraint: say Conflict."""
    try:
        yield
    except IntegrityError as exc:
        session.rollback()
        text = str(exc.orig)
        if "uq_observations_lesion_id_date" in text or "observations.lesion_id" in text:
            raise Conflict(
                f"lesion {lesion.external_id} already has an observation on {day}"
            ) from exc
        raise


def record_observation(
    session: Session, lesion_id: int, obs: ObservationIn, *, actor: str
) -> Observation:
    """Store one visit's finding; the caller queues the assessment after this commits."""
    lesion = load_lesion(session, lesion_id)
    _check_against_lesion(lesion, obs)
    if any(o.date == obs.date for o in lesion.observations):
        raise Conflict(f"lesion {lesion.external_id} already has an observation on {obs.date}")
    row = Observation(lesion_id=lesion.id)
    _apply_observation(row, obs)
    session.add(row)
    mark_for_assessment(lesion)
    with _one_visit_per_day(session, lesion, obs.date):
        session.flush()
        audit(session, actor, "observation.record", "observation", row.id, None,
              observation_snapshot(row))
        session.commit()
    return row


def load_observation(session: Session, observation_id: int) -> Observation:
    """An observation with its features, and its lesion with the patient."""
    row = session.scalar(
        select(Observation)
        .where(Observation.id == observation_id)
        .options(
            selectinload(Observation.feature_rows),
            selectinload(Observation.lesion).selectinload(Lesion.patient),
        )
    )
    if row is None:
        raise NotFound(f"observation {observation_id} does not exist")
    return row


def update_observation(
    session: Session, observation_id: int, obs: ObservationIn, *, actor: str
) -> Observation:
    row = load_observation(session, observation_id)
    lesion = row.lesion
    _check_against_lesion(lesion, obs)
    clash = session.scalar(
        select(Observation.id).where(
            Observation.lesion_id == lesion.id,
            Observation.date == obs.date,
            Observation.id != row.id,
        )
    )
    if clash is not None:
        raise Conflict(f"lesion {lesion.external_id} already has an observation on {obs.date}")
    before = observation_snapshot(row)
    _apply_observation(row, obs)
    after = observation_snapshot(row)
    if before != after:
        mark_for_assessment(lesion)
        audit(session, actor, "observation.update", "observation", row.id, before, after)
    with _one_visit_per_day(session, lesion, obs.date):
        session.commit()
    return row


def delete_observation(session: Session, observation_id: int, *, actor: str) -> int:
    """Remove a visit recorded in error; returns its lesion id (to re-assess)."""
    row = load_observation(session, observation_id)
    lesion = row.lesion
    count = session.scalar(
        select(func.count()).select_from(Observation).where(Observation.lesion_id == lesion.id)
    )
    if count == 1:
        # A lesion is defined by at least one observation (timeline format): keep the record
        # exportable and importable instead of leaving an empty lesion behind.
        raise Conflict(
            f"observation {observation_id} is the only one of lesion {lesion.external_id};"
            " correct it instead of deleting it"
        )
    before = observation_snapshot(row)
    session.delete(row)
    mark_for_assessment(lesion)
    audit(session, actor, "observation.delete", "observation", observation_id, before, None)
    session.commit()
    return lesion.id


# --------------------------------------------------------------------------- export


def export_timeline(session: Session, patient_external_id: str | None = None) -> dict[str, Any]:
    """The stored record as lesion-timeline/1: the backup format (import gives it back)."""
    query = (
        select(Patient)
        .order_by(Patient.external_id)
        .options(
            selectinload(Patient.lesions).options(
                selectinload(Lesion.observations).selectinload(Observation.feature_rows),
                selectinload(Lesion.treatments),
            )
        )
    )
    if patient_external_id is not None:
        query = query.where(Patient.external_id == patient_external_id)
    patients = list(session.scalars(query))
    if patient_external_id is not None and not patients:
        raise NotFound(f"patient {patient_external_id} does not exist")
    return {
        "format": "lesion-timeline/1",
        "patients": [
            {
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
            for p in patients
        ],
    }


def _treatments_json(lesion: Lesion) -> dict[str, Any]:
    """`treatments` by date then kind, and no key at all when there are none (format spec)."""
    if not lesion.treatments:
        return {}
    rows = sorted(({k: getattr(t, k) for k in TREATMENT_COLUMNS} for t in lesion.treatments),
                  key=treatment_order)
    return {"treatments": [treatment_snapshot_of(r) for r in rows]}


def patient_exists(session: Session, external_id: str) -> bool:
    return session.scalar(select(Patient.id).where(Patient.external_id == external_id)) is not None


def find_patient(session: Session, external_id: str) -> Patient:
    patient = session.scalar(select(Patient).where(Patient.external_id == external_id))
    if patient is None:
        raise NotFound(f"patient {external_id} does not exist")
    return patient
