"""The writer of single patients, lesions and observations (whole files: services.imports).

Each public function is one use case and one transaction: it takes the caller's Session, writes
the change, its audit event and the lesion's outbox mark (`assessment_due_at`), and commits once.
Callers send the assessment task after the commit (the mark makes a lost task harmless: the
sweep re-sends it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from tracker.audit import audit, required_reason
from tracker.clock import now
from tracker.errors import Conflict, InvalidInput, NotFound, StaleVersion
from tracker.export import observation_snapshot
from tracker.models import Lesion, Observation, ObservationFeature, Treatment
from tracker.queries.lookup import load_lesion
from tracker.services.cohort_subjects import forget_cohort_subjects
from tracker.summaries import refresh_patient_summaries
from tracker.timeline.models import ObservationIn, Site
from tracker.timeline.problems import date_problems

R = TypeVar("R", Observation, Treatment)


def mark_for_assessment(lesion: Lesion) -> None:
    """The outbox mark: this lesion's data changed and its stored assessment is stale.

    The version is incremented in SQL, not in Python, so two writers on one lesion at once
    cannot both write N+1 (the later assessment would then look current while missing one).
    """
    if lesion.id is None:  # not inserted yet: there is no stored version to race on
        lesion.data_version = 1
    else:
        lesion.data_version = Lesion.data_version + 1
        session = object_session(lesion)
        if session is not None:  # pending until assessed: out of the cohort outcomes
            with session.no_autoflush:  # the caller flushes its change where it guards it
                forget_cohort_subjects(session, [lesion.id])
    lesion.assessment_due_at = now()


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
    features = [f.value for f in dict.fromkeys(obs.features)]
    if row.id is not None and {r.feature for r in row.feature_rows} == set(features):
        return
    row.feature_rows = [ObservationFeature(feature=f) for f in features]
    if row.id is not None:
        # Features live in their own table: touch the row so that its version moves too.
        row.updated_at = now()


def site_columns(site: Site) -> dict[str, Any]:
    return {
        "compartment": site.compartment.value,
        "region": site.region.value,
        "structure": site.structure,
        "laterality": site.laterality.value,
    }


# --------------------------------------------------------------------------- checks


def _check_against_lesion(lesion: Lesion, obs: ObservationIn) -> None:
    """What the observation alone cannot know: birth year and event date of its lesion."""
    problems = list(date_problems(obs.date, "date", birth_year=lesion.patient.birth_year,
                                  event_date=lesion.event_date))
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
    add_to_lesion(session, lesion, row, _one_visit_per_day(session, lesion, obs.date),
                  actor=actor, kind="observation", snapshot=observation_snapshot)
    return row


def add_to_lesion(session: Session, lesion: Lesion, row: R,
                  unique_guard: AbstractContextManager[None], *, actor: str, kind: str,
                  snapshot: Callable[[R], dict[str, Any]]) -> None:
    """Commit a new observation or treatment (`kind`) of a locked lesion with its audit event,
    its outbox mark and its patient's summary; `unique_guard` turns the one-per-day
    constraint's error into Conflict."""
    session.add(row)
    mark_for_assessment(lesion)
    with unique_guard:
        session.flush()
        audit(session, actor, f"{kind}.record", kind, row.id, None, snapshot(row))
        refresh_patient_summaries(session, [lesion.patient_id])
        session.commit()


def lock_lesion(session: Session, lesion_id: int) -> None:
    """Serialise the writers of one lesion's observations; call before reading what to change.

    PostgreSQL locks the lesion row (FOR NO KEY UPDATE, like the assessment, so new
    observations can still reference it meanwhile). SQLite has one writer at a time: a no-op
    UPDATE as the transaction's first write takes the database's write lock (the busy timeout
    waits for it), so what is read next is what is overwritten.
    """
    if not sqlite_write_lock(session, lesion_id):
        session.execute(
            select(Lesion.id).where(Lesion.id == lesion_id).with_for_update(key_share=True)
        )


def sqlite_write_lock(session: Session, lesion_id: int) -> bool:
    """On SQLite, take the database's write lock with a no-op UPDATE of the lesion (the only
    lock SQLite has); False elsewhere, where the caller locks the row itself."""
    if session.get_bind().dialect.name != "sqlite":
        return False
    session.execute(
        update(Lesion)
        .where(Lesion.id == lesion_id)
        .values(data_version=Lesion.data_version)
        .execution_options(synchronize_session=False)
    )
    return True


def lock_observation(
    session: Session, observation_id: int, expected_version: int | None = None
) -> Observation:
    """The observation as committed now, locked (its lesion first: one lock order for every
    writer, so no deadlock). 404 when it is gone, StaleVersion when it is not the version the
    caller read (`expected_version`, the ETag / the form's hidden field)."""
    row: Observation | None = None
    locked: set[int] = set()
    while row is None or row.lesion_id not in locked:  # moved meanwhile (split): lock its new one
        lesion_id = row.lesion_id if row is not None else session.scalar(
            select(Observation.lesion_id).where(Observation.id == observation_id))
        if lesion_id is None:
            raise NotFound(f"observation {observation_id} does not exist")
        lock_lesion(session, lesion_id)
        locked.add(lesion_id)
        row = session.scalar(
            select(Observation)
            .where(Observation.id == observation_id)
            .options(
                selectinload(Observation.feature_rows),
                selectinload(Observation.lesion).selectinload(Lesion.patient),
            )
            .with_for_update(of=Observation)
            .execution_options(populate_existing=True)
        )
        if row is None:
            raise NotFound(f"observation {observation_id} does not exist")
    if expected_version is not None and row.version != expected_version:
        current = row.version
        raise StaleVersion(
            f"the observation of {row.date} (lesion {row.lesion.external_id}) was changed by"
            f" someone else since you read it (your version {expected_version}, now {current});"
            " review the current values",
            current,
        )
    return row


@contextmanager
def _no_stale_write(session: Session, observation_id: int) -> Iterator[None]:
    """Backstop for a writer that skipped the lock: its UPDATE/DELETE matched no row version."""
    try:
        yield
    except StaleDataError as exc:
        session.rollback()
        raise Conflict(
            f"observation {observation_id} was changed or removed meanwhile; reload it"
        ) from exc


def update_observation(
    session: Session,
    observation_id: int,
    obs: ObservationIn,
    *,
    actor: str,
    reason: str | None = None,
    expected_version: int | None = None,
) -> Observation:
    """Correct an observation under its lock, so the audit's "before" is what it replaced."""
    row = lock_observation(session, observation_id, expected_version)
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
        audit(session, actor, "observation.update", "observation", row.id, before, after,
              reason=reason)
    with _one_visit_per_day(session, lesion, obs.date), _no_stale_write(session, row.id):
        if before != after:
            refresh_patient_summaries(session, [lesion.patient_id])
        session.commit()
    return row


def delete_observation(
    session: Session, observation_id: int, *, actor: str, reason: str | None = None,
    expected_version: int | None = None,
) -> int:
    """Remove a visit recorded in error; returns its lesion id (to re-assess). A `reason` given
    is kept in the audit and may not be blank (the page always gives one; an API client may
    give none, as before it could).

    The lesion is locked before its observations are counted, so two deletions of its last two
    observations cannot both pass the count; a second deletion of the same one finds it gone.
    """
    if reason is not None:
        reason = required_reason(reason, "say briefly why this observation is removed")
    row = lock_observation(session, observation_id, expected_version)
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
    audit(session, actor, "observation.delete", "observation", observation_id, before, None,
          reason=reason)
    session.delete(row)
    mark_for_assessment(lesion)
    lesion_id = lesion.id
    with _no_stale_write(session, observation_id):
        refresh_patient_summaries(session, [lesion.patient_id])
        session.commit()
    return lesion_id
