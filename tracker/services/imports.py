"""Importing a lesion-timeline/1 document: the bulk writer of patients, lesions and observations.

One file is one transaction (all or nothing), read in chunks of patients so that memory follows
a chunk, not the file. Per chunk: a set-based read of what is stored (no lock), the checks
against it, a diff; only patients with a change are then created (`ON CONFLICT DO NOTHING`, so
two imports of the same new patients never meet a unique violation), locked in id order and
re-read under the lock, so that every audit "before" is the value the change replaced. Writes
are Core bulk statements (executemany, insertmanyvalues with RETURNING); the lesion's outbox
mark is set in the same transaction (`records.mark_for_assessment` semantics, in SQL). A file
that matches what is stored writes nothing and takes no lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar, TypeVar, cast

from sqlalchemy import Insert, Table, bindparam, delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from tracker.alert_columns import sync_alert_columns
from tracker.audit import audit_rows
from tracker.clock import now
from tracker.db import insert_of
from tracker.errors import Problem
from tracker.export import (
    LESION_COLUMNS,
    OBSERVATION_COLUMNS,
    TREATMENT_COLUMNS,
    lesion_snapshot_of,
    observation_snapshot_of,
    patient_snapshot_of,
    treatment_snapshot_of,
)
from tracker.models import (
    Lesion,
    Observation,
    ObservationFeature,
    Patient,
    Treatment,
    features_in_order,
)
from tracker.services.cohort_subjects import forget_cohort_subjects
from tracker.services.import_turns import retrying_deadlocks, take_turn
from tracker.services.records import observation_columns, site_columns
from tracker.summaries import refresh_patient_summaries
from tracker.tally import Tally
from tracker.timeline.models import LesionIn, PatientIn, Timeline, TreatmentIn
from tracker.timeline.problems import ProblemLog, date_problems
from tracker.timeline.stream import PatientStream

CHUNK_PATIENTS = 500  # patients read, diffed and written together

P = cast(Table, Patient.__table__)
L = cast(Table, Lesion.__table__)
O = cast(Table, Observation.__table__)  # noqa: E741
F = cast(Table, ObservationFeature.__table__)
T = cast(Table, Treatment.__table__)

Item = TypeVar("Item")


@dataclass
class ImportSummary(Tally):
    UNSAID: ClassVar[frozenset[str]] = frozenset({"changed_lesion_ids"})

    patients_created: int = 0
    patients_updated: int = 0
    lesions_created: int = 0
    lesions_updated: int = 0
    observations_created: int = 0
    observations_updated: int = 0
    observations_unchanged: int = 0
    changed_lesion_ids: list[int] = field(default_factory=list)


def import_stream(
    session: Session, stream: PatientStream, *, actor: str, chunk_patients: int = CHUNK_PATIENTS
) -> ImportSummary:
    """Import a document read patient by patient; raises InvalidInput (nothing written) with
    every problem of the file, or Conflict when a concurrent writer deadlocked with it."""
    return _import(session, stream, stream.problems, actor, chunk_patients)


def import_timeline(
    session: Session, timeline: Timeline, *, actor: str, chunk_patients: int = CHUNK_PATIENTS
) -> ImportSummary:
    """Import a document already validated whole (the demo cohort, small callers)."""
    return _import(session, list(enumerate(timeline.patients)), ProblemLog(), actor,
                   chunk_patients)


def _batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _import(
    session: Session,
    patients: Iterable[tuple[int, PatientIn]],
    problems: ProblemLog,
    actor: str,
    chunk_patients: int,
) -> ImportSummary:
    """Merge: patients and lesions matched by id, observations by lesion and date; what the
    file does not mention is left alone. Nothing is written once any problem is known, but the
    file is read to its end so that every problem is reported at once."""

    def once() -> ImportSummary:
        """One attempt, one transaction (rolled back on any error)."""
        writer = _ChunkWriter(session, actor)
        try:
            take_turn(session)
            for chunk in _batches(patients, chunk_patients):
                if not problems:
                    writer.merge(chunk, problems)
            if problems:
                raise problems.error()
            # the changed lesions leave the cohort outcomes until assessed: done last, so the
            # shared count rows are locked only for the commit, not for the whole import
            forget_cohort_subjects(session, sorted(writer.changed))
            session.commit()
        except BaseException:
            session.rollback()
            raise
        writer.summary.changed_lesion_ids = sorted(writer.changed)
        return writer.summary

    return retrying_deadlocks(once, again=problems.clear)


# --------------------------------------------------------------------------- stored state


@dataclass
class _StoredObservation:
    id: int
    columns: dict[str, Any]
    features: list[str] = field(default_factory=list)


@dataclass
class _StoredTreatment:
    id: int
    columns: dict[str, Any]


@dataclass
class _StoredLesion:
    id: int
    columns: dict[str, Any]
    observations: dict[date, _StoredObservation] = field(default_factory=dict)
    treatments: dict[tuple[date, str], _StoredTreatment] = field(default_factory=dict)


@dataclass
class _StoredPatient:
    id: int
    birth_year: int | None
    sex: str | None
    lesions: dict[str, _StoredLesion] = field(default_factory=dict)


def _of_lesions(session: Session, table: Table, columns: Sequence[str],
                of_patients: ColumnElement[bool], *, lock: bool
                ) -> Iterator[tuple[Row[Any], dict[str, Any]]]:
    """The treatments or observations of the patients' lesions, in id order (locked with
    `lock`), each with its compared columns."""
    query = (select(table.c.id, table.c.lesion_id, *(table.c[k] for k in columns))
             .join(L, L.c.id == table.c.lesion_id).where(of_patients).order_by(table.c.id))
    if lock:
        query = query.with_for_update(of=table)
    for r in session.execute(query):
        m = r._mapping
        yield r, {k: m[k] for k in columns}


def _read_stored(
    session: Session, external_ids: list[str], *, lock: bool
) -> dict[str, _StoredPatient]:
    """Patients with their lesions, treatments, observations and features: five set-based
    selects. With `lock`, the patient, lesion, treatment and observation rows are locked
    (PostgreSQL; in id order)."""
    pq = (select(P.c.id, P.c.external_id, P.c.birth_year, P.c.sex)
          .where(P.c.external_id.in_(external_ids)).order_by(P.c.external_id))
    if lock:
        pq = pq.with_for_update()
    patients = {r.external_id: _StoredPatient(r.id, r.birth_year, r.sex)
                for r in session.execute(pq)}
    by_id = {p.id: p for p in patients.values()}
    if not by_id:
        return patients
    lq = (select(L.c.id, L.c.patient_id, L.c.external_id, *(L.c[k] for k in LESION_COLUMNS))
          .where(L.c.patient_id.in_(by_id)).order_by(L.c.id))
    if lock:
        lq = lq.with_for_update()
    lesions: dict[int, _StoredLesion] = {}
    for r in session.execute(lq):
        m = r._mapping
        lesion = _StoredLesion(r.id, {k: m[k] for k in LESION_COLUMNS})
        by_id[r.patient_id].lesions[r.external_id] = lesion
        lesions[r.id] = lesion
    if not lesions:
        return patients
    of_patients = L.c.patient_id.in_(by_id)
    for r, values in _of_lesions(session, T, TREATMENT_COLUMNS, of_patients, lock=lock):
        lesions[r.lesion_id].treatments[r.date, r.kind] = _StoredTreatment(r.id, values)
    observations: dict[int, _StoredObservation] = {}
    for r, values in _of_lesions(session, O, OBSERVATION_COLUMNS, of_patients, lock=lock):
        obs = _StoredObservation(r.id, values)
        lesions[r.lesion_id].observations[r.date] = obs
        observations[r.id] = obs
    fq = (select(F.c.observation_id, F.c.feature)
          .join(O, O.c.id == F.c.observation_id).join(L, L.c.id == O.c.lesion_id)
          .where(of_patients))
    for r in session.execute(fq):
        observations[r.observation_id].features.append(r.feature)
    for obs in observations.values():
        if len(obs.features) > 1:
            obs.features = features_in_order(obs.features)
    return patients


def _check_against_stored(
    patient_in: PatientIn, ppath: str, stored: _StoredPatient | None
) -> list[Problem]:
    """Rules that a valid file can still break against what is already stored."""
    problems: list[Problem] = []
    by = patient_in.birth_year if patient_in.birth_year is not None else (
        stored.birth_year if stored else None
    )
    new_by = patient_in.birth_year
    if new_by is not None and stored is not None:
        # A new birth year must also fit the visits already stored (the file may not list
        # them), or the stored record would no longer export as a valid timeline.
        in_file = {(le.id, o.date) for le in patient_in.lesions for o in le.observations}
        before_birth = [(d, external_id) for external_id, lesion in stored.lesions.items()
                        for d in lesion.observations
                        if d.year < new_by and (external_id, d) not in in_file]
        if before_birth:
            first, first_lesion = min(before_birth)
            problems.append(Problem(f"{ppath}.birth_year",
                                    f"{new_by} is after the stored observation of {first}"
                                    f" (lesion {first_lesion})"))
        treated = {(le.id, t.date, t.kind.value) for le in patient_in.lesions
                   for t in le.treatments}
        treated_before = [(d, external_id) for external_id, lesion in stored.lesions.items()
                          for d, kind in lesion.treatments
                          if d.year < new_by and (external_id, d, kind) not in treated]
        if treated_before and not before_birth:
            first, first_lesion = min(treated_before)
            problems.append(Problem(f"{ppath}.birth_year",
                                    f"{new_by} is after the stored treatment of {first}"
                                    f" (lesion {first_lesion})"))
    for li, lesion_in in enumerate(patient_in.lesions):
        existing = stored.lesions.get(lesion_in.id) if stored else None
        event = lesion_in.event_date
        for oi, obs in enumerate(lesion_in.observations):
            where = f"{ppath}.lesions[{li}].observations[{oi}].date"
            problems += date_problems(obs.date, where, birth_year=by, event_date=event)
        for ti, treatment in enumerate(lesion_in.treatments):
            where = f"{ppath}.lesions[{li}].treatments[{ti}].date"
            problems += date_problems(treatment.date, where, birth_year=by, event_date=event)
        if existing is not None and event is not None:
            early = [d for d in existing.observations if d < event]
            if early:
                problems.append(
                    Problem(
                        f"{ppath}.lesions[{li}].event_date",
                        f"{event} is after the stored observation of {min(early)}",
                    )
                )
            listed = {(t.date, t.kind.value) for t in lesion_in.treatments}
            early_t = [d for d, kind in existing.treatments
                       if d < event and (d, kind) not in listed]
            if early_t and not early:
                problems.append(
                    Problem(
                        f"{ppath}.lesions[{li}].event_date",
                        f"{event} is after the stored treatment of {min(early_t)}",
                    )
                )
    return problems


# --------------------------------------------------------------------------- the diff


def _lesion_columns(lesion_in: LesionIn) -> dict[str, Any]:
    return {
        **site_columns(lesion_in.site),
        "entity": lesion_in.entity.value if lesion_in.entity else None,
        "event_date": lesion_in.event_date,
        "event_kind": lesion_in.event_kind.value if lesion_in.event_kind else None,
    }


def _treatment_columns(treatment: TreatmentIn) -> dict[str, Any]:
    return {"date": treatment.date, "kind": treatment.kind.value, "note": treatment.note}


def _patient_values(patient_in: PatientIn, stored: _StoredPatient) -> tuple[int | None, str | None]:
    """A file that leaves birth year or sex out keeps the stored value."""
    by = patient_in.birth_year if patient_in.birth_year is not None else stored.birth_year
    sex = patient_in.sex.value if patient_in.sex is not None else stored.sex
    return by, sex


def _changes_anything(patient_in: PatientIn, stored: _StoredPatient | None) -> bool:
    if stored is None:
        return True
    if _patient_values(patient_in, stored) != (stored.birth_year, stored.sex):
        return True
    for lesion_in in patient_in.lesions:
        lesion = stored.lesions.get(lesion_in.id)
        if lesion is None or _lesion_columns(lesion_in) != lesion.columns:
            return True
        for t in lesion_in.treatments:
            stored_t = lesion.treatments.get((t.date, t.kind.value))
            if stored_t is None or stored_t.columns["note"] != t.note:
                return True
        for obs in lesion_in.observations:
            row = lesion.observations.get(obs.date)
            if (row is None or observation_columns(obs) != row.columns
                    or features_in_order(f.value for f in obs.features) != row.features):
                return True
    return False


def _insert_missing(session: Session) -> Insert:
    """INSERT that skips rows whose unique key exists (a concurrent import created them)."""
    return cast(Insert, insert_of(session, P).on_conflict_do_nothing(
        index_elements=[P.c.external_id]))


class _ChunkWriter:
    """Diffs and writes chunks of one import; holds only the summary between chunks."""

    def __init__(self, session: Session, actor: str) -> None:
        self.session = session
        self.actor = actor
        self.summary = ImportSummary()
        self.changed: set[int] = set()

    def merge(self, chunk: list[tuple[int, PatientIn]], problems: ProblemLog) -> None:
        ids = [p.id for _, p in chunk]
        stored = _read_stored(self.session, ids, lock=False)
        for index, patient_in in chunk:
            problems.extend(_check_against_stored(patient_in, f"patients[{index}]",
                                                  stored.get(patient_in.id)))
        if problems:
            return
        dirty = [(i, p) for i, p in chunk if _changes_anything(p, stored.get(p.id))]
        dirty_ids = {p.id for _, p in dirty}
        self.summary.observations_unchanged += sum(
            len(le.observations) for _, p in chunk if p.id not in dirty_ids for le in p.lesions
        )
        if not dirty:
            return
        created = self._create_patients([p for _, p in dirty if p.id not in stored])
        fresh = _read_stored(self.session, sorted(p.id for _, p in dirty), lock=True)
        for index, patient_in in dirty:
            problems.extend(_check_against_stored(patient_in, f"patients[{index}]",
                                                  fresh[patient_in.id]))
        if problems:
            return
        self._write(dirty, fresh, created)
        refresh_patient_summaries(self.session, (fresh[p.id].id for _, p in dirty))

    def _create_patients(self, new: list[PatientIn]) -> set[str]:
        """Insert the new patients (sorted, so two imports take the unique keys in one order);
        returns the ids this import created (not those a concurrent import created first)."""
        if not new:
            return set()
        at = now()
        rows = [{"external_id": p.id, "birth_year": p.birth_year,
                 "sex": p.sex.value if p.sex else None, "created_at": at}
                for p in sorted(new, key=lambda p: p.id)]
        stmt = _insert_missing(self.session).returning(P.c.external_id)
        return set(self.session.scalars(stmt, rows))

    def _write(self, dirty: list[tuple[int, PatientIn]], stored: dict[str, _StoredPatient],
               created: set[str]) -> None:
        s = self.summary
        at = now()
        audits: list[dict[str, Any]] = []

        owner: dict[int, int] = {}  # lesion id -> patient id, to file each event under both

        def event(action: str, target: str, target_id: int, before: dict[str, Any] | None,
                  after: dict[str, Any] | None, patient_id: int,
                  lesion_id: int | None = None) -> None:
            audits.append({"actor": self.actor, "action": action, "target_type": target,
                           "target_id": target_id, "before": before, "after": after, "at": at,
                           "patient_id": patient_id, "lesion_id": lesion_id})

        patient_updates: list[dict[str, Any]] = []
        new_lesions: list[tuple[int, LesionIn, dict[str, Any]]] = []
        lesion_updates: list[dict[str, Any]] = []
        new_observations: list[tuple[int, dict[str, Any], list[str]]] = []
        new_treatments: list[tuple[int, dict[str, Any]]] = []
        treatment_updates: list[dict[str, Any]] = []
        observation_updates: list[dict[str, Any]] = []
        updated_features: list[tuple[int, list[str]]] = []
        marks: set[int] = set()

        for _, patient_in in dirty:
            sp = stored[patient_in.id]
            if patient_in.id in created:
                event("patient.import", "patient", sp.id, None,
                      patient_snapshot_of(patient_in.id, sp.birth_year, sp.sex), sp.id)
                s.patients_created += 1
            else:
                by, sex = _patient_values(patient_in, sp)
                if (by, sex) != (sp.birth_year, sp.sex):
                    patient_updates.append({"b_id": sp.id, "birth_year": by, "sex": sex})
                    event("patient.update", "patient", sp.id,
                          patient_snapshot_of(patient_in.id, sp.birth_year, sp.sex),
                          patient_snapshot_of(patient_in.id, by, sex), sp.id)
                    s.patients_updated += 1
            for lesion_in in patient_in.lesions:
                columns = _lesion_columns(lesion_in)
                lesion = sp.lesions.get(lesion_in.id)
                if lesion is None:
                    new_lesions.append((sp.id, lesion_in, columns))
                    continue
                owner[lesion.id] = sp.id
                if columns != lesion.columns:
                    before = lesion_snapshot_of(lesion_in.id, lesion.columns)
                    after = lesion_snapshot_of(lesion_in.id, columns)
                    lesion_updates.append({"b_id": lesion.id, **columns})
                    event("lesion.update", "lesion", lesion.id, before, after, sp.id, lesion.id)
                    s.lesions_updated += 1
                    marks.add(lesion.id)
                for treatment in lesion_in.treatments:
                    tcols = _treatment_columns(treatment)
                    stored_t = lesion.treatments.get((treatment.date, treatment.kind.value))
                    if stored_t is None:
                        new_treatments.append((lesion.id, tcols))
                        marks.add(lesion.id)
                    elif stored_t.columns != tcols:
                        treatment_updates.append({"b_id": stored_t.id, "b_note": tcols["note"]})
                        event("treatment.update", "treatment", stored_t.id,
                              treatment_snapshot_of(stored_t.columns), treatment_snapshot_of(tcols),
                              sp.id, lesion.id)
                        marks.add(lesion.id)
                for obs in lesion_in.observations:
                    ocols = observation_columns(obs)
                    features = features_in_order(dict.fromkeys(f.value for f in obs.features))
                    row = lesion.observations.get(obs.date)
                    if row is None:
                        new_observations.append((lesion.id, ocols, features))
                        marks.add(lesion.id)
                        continue
                    before = observation_snapshot_of(row.columns, row.features)
                    after = observation_snapshot_of(ocols, features)
                    if before == after:
                        s.observations_unchanged += 1
                        continue
                    observation_updates.append({"b_id": row.id, **ocols})
                    if features != row.features:
                        updated_features.append((row.id, features))
                    event("observation.update", "observation", row.id, before, after,
                          sp.id, lesion.id)
                    s.observations_updated += 1
                    marks.add(lesion.id)

        if patient_updates:
            self.session.execute(
                update(P).where(P.c.id == bindparam("b_id"))
                .values(birth_year=bindparam("birth_year"), sex=bindparam("sex")),
                patient_updates,
            )
        if new_lesions:
            rows = [{"patient_id": pid, "external_id": le.id, **cols, "data_version": 1,
                     "assessment_due_at": at} for pid, le, cols in new_lesions]
            # executemany without RETURNING, then one select for the ids: far cheaper on
            # psycopg than RETURNING over many rows, and the patients are locked by us.
            self.session.execute(insert(L), rows)
            ids = {(r.patient_id, r.external_id): r.id for r in self.session.execute(
                select(L.c.id, L.c.patient_id, L.c.external_id)
                .where(L.c.patient_id.in_({pid for pid, _, _ in new_lesions})))}
            for pid, lesion_in, cols in new_lesions:
                lesion_id = ids[(pid, lesion_in.id)]
                owner[lesion_id] = pid
                event("lesion.import", "lesion", lesion_id, None,
                      lesion_snapshot_of(lesion_in.id, cols), pid, lesion_id)
                s.lesions_created += 1
                self.changed.add(lesion_id)
                new_treatments += [(lesion_id, _treatment_columns(t)) for t in lesion_in.treatments]
                for obs in lesion_in.observations:
                    new_observations.append(
                        (lesion_id, observation_columns(obs),
                         features_in_order(dict.fromkeys(f.value for f in obs.features))))
        if lesion_updates:
            self.session.execute(
                update(L).where(L.c.id == bindparam("b_id"))
                .values({k: bindparam(k) for k in LESION_COLUMNS}),
                lesion_updates,
            )
            # the worklist's copies of a changed site or entity
            sync_alert_columns(self.session, [u["b_id"] for u in lesion_updates])
        if new_observations:
            rows = [{"lesion_id": lid, **cols, "created_at": at, "updated_at": at}
                    for lid, cols, _ in new_observations]
            self.session.execute(insert(O), rows)
            obs_ids = {(r.lesion_id, r.date): r.id for r in self.session.execute(
                select(O.c.id, O.c.lesion_id, O.c.date)
                .where(O.c.lesion_id.in_({lid for lid, _, _ in new_observations})))}
            feature_rows: list[dict[str, Any]] = []
            for lid, cols, features in new_observations:
                oid = obs_ids[(lid, cols["date"])]
                event("observation.import", "observation", oid, None,
                      observation_snapshot_of(cols, features), owner[lid], lid)
                feature_rows += [{"observation_id": oid, "feature": f} for f in features]
            s.observations_created += len(new_observations)
            if feature_rows:
                self.session.execute(insert(F), feature_rows)
        if new_treatments:
            self.session.execute(insert(T), [{"lesion_id": lid, **cols, "created_at": at,
                                              "updated_at": at} for lid, cols in new_treatments])
            treatment_ids = {(r.lesion_id, r.date, r.kind): r.id for r in self.session.execute(
                select(T.c.id, T.c.lesion_id, T.c.date, T.c.kind)
                .where(T.c.lesion_id.in_({lid for lid, _ in new_treatments})))}
            for lid, cols in new_treatments:
                event("treatment.import", "treatment",
                      treatment_ids[(lid, cols["date"], cols["kind"])], None,
                      treatment_snapshot_of(cols), owner[lid], lid)
        if treatment_updates:
            self.session.execute(
                update(T).where(T.c.id == bindparam("b_id"))
                .values(note=bindparam("b_note"), updated_at=at),
                treatment_updates,
            )
        if observation_updates:
            self.session.execute(
                update(O).where(O.c.id == bindparam("b_id"))
                .values({**{k: bindparam(k) for k in OBSERVATION_COLUMNS}, "updated_at": at}),
                observation_updates,
            )
        if updated_features:
            self.session.execute(
                delete(F).where(F.c.observation_id.in_([oid for oid, _ in updated_features])))
            rows = [{"observation_id": oid, "feature": f}
                    for oid, features in updated_features for f in features]
            if rows:
                self.session.execute(insert(F), rows)
        touched = {u["b_id"] for u in observation_updates} | {oid for oid, _ in updated_features}
        if touched:
            # Core bypasses the ORM's version counter: move it here, so an edit form or an
            # If-Match still holding the old version is refused (never a silent overwrite).
            self.session.execute(update(O).where(O.c.id.in_(sorted(touched)))
                                 .values(version=O.c.version + 1))
        if marks:
            # records.mark_for_assessment in SQL: the version grows in the database.
            self.session.execute(
                update(L).where(L.c.id.in_(sorted(marks)))
                .values(data_version=L.c.data_version + 1, assessment_due_at=at))
            self.changed |= marks
        audit_rows(self.session, audits)

