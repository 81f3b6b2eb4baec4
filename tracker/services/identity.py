"""Lesion identity: merge two records of one deposit, split one record that was two (also one
visit's film that measured both deposits together), or correct a lesion's site.

One function = one transaction, under row locks on the lesions involved (taken in id order, so
two identity changes cannot deadlock). Each change is audited with everything needed to undo it
(the full snapshot of what was moved, merged away or discarded), and both lesions are marked for
re-assessment: stages, transitions and alerts are the engine's to recompute.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, selectinload

from tracker import alert_counts
from tracker.alert_columns import sync_alert_columns
from tracker.audit import audit, required_reason
from tracker.errors import Conflict, InvalidInput, NotFound, Problem, StaleVersion
from tracker.export import lesion_snapshot, observation_snapshot, treatment_snapshot
from tracker.models import (
    Alert,
    Assessment,
    Lesion,
    Observation,
    ObservationFeature,
    Treatment,
)
from tracker.services.cohort_subjects import forget_cohort_subjects
from tracker.services.records import mark_for_assessment, observation_columns
from tracker.summaries import refresh_patient_summaries
from tracker.timeline.models import ID_PATTERN, ObservationIn
from tracker.timeline.reader import validate_observation
from tracker.timeline.site import SITE_FIELDS, SiteIn, checked_site
from tracker.vocabulary import AlertState

Keep = Literal["kept", "merged"]


def _lock(session: Session, lesion_ids: Iterable[int]) -> dict[int, Lesion]:
    ids = sorted(set(lesion_ids))
    rows = session.scalars(
        select(Lesion).where(Lesion.id.in_(ids)).order_by(Lesion.id).with_for_update()
        .options(selectinload(Lesion.patient), selectinload(Lesion.treatments),
                 selectinload(Lesion.observations).selectinload(Observation.feature_rows))
        .execution_options(populate_existing=True)
    ).all()
    found = {row.id: row for row in rows}
    for lesion_id in ids:
        if lesion_id not in found:
            raise NotFound(f"lesion {lesion_id} does not exist")
    return found


def _move(session: Session, observations: Sequence[Observation], to: Lesion) -> None:
    """Re-home observations; their stored stages belonged to the old lesion's course."""
    ids = [o.id for o in observations]
    if not ids:
        return
    session.execute(delete(Assessment).where(Assessment.observation_id.in_(ids)))
    session.execute(update(Observation).where(Observation.id.in_(ids)).values(lesion_id=to.id))


@dataclass
class MergePlan:
    """Same-date visits in both lesions: one of each pair must go (the user chooses)."""

    conflicts: list[tuple[Observation, Observation]] = field(default_factory=list)


def merge_plan(kept: Lesion, merged: Lesion) -> MergePlan:
    by_date = {o.date: o for o in kept.observations}
    return MergePlan([(by_date[o.date], o) for o in merged.observations if o.date in by_date])


def same_site(kept: Lesion, merged: Lesion) -> bool:
    """A merge joins one lesion recorded twice: both records are at one region on one side
    (a deposit's structure or compartment may have been recorded differently)."""
    return (kept.region, kept.laterality) == (merged.region, merged.laterality)


def _at(lesion: Lesion) -> str:
    return f"{lesion.laterality} {lesion.region.replace('_', ' ')}"


def merge_lesions(
    session: Session,
    kept_id: int,
    merged_id: int,
    *,
    prefer: Mapping[date, Keep],
    actor: str,
    reason: str,
) -> Lesion:
    """Fold lesion `merged_id` into `kept_id` (same patient). For each date both have a visit,
    `prefer[date]` says whose observation stays; the other is discarded (kept in the audit)."""
    if kept_id == merged_id:
        raise InvalidInput([Problem("other", "choose another lesion to merge with")])
    reason = _reason(reason)
    lesions = _lock(session, (kept_id, merged_id))
    kept, merged = lesions[kept_id], lesions[merged_id]
    if kept.patient_id != merged.patient_id:
        raise InvalidInput([Problem("other", f"lesion {merged.external_id} belongs to another "
                                             "patient; only lesions of one patient merge")])
    if not same_site(kept, merged):
        raise InvalidInput([Problem("other", (
            f"lesion {merged.external_id} is at the {_at(merged)} and {kept.external_id} at the "
            f"{_at(kept)}: a merge joins one lesion recorded twice, at one site (if a site was "
            "recorded wrongly, correct it first)"))])
    plan = merge_plan(kept, merged)
    undecided = [a.date for a, _ in plan.conflicts if prefer.get(a.date) not in ("kept", "merged")]
    if undecided:
        raise Conflict("both lesions have a visit on " + ", ".join(map(str, undecided))
                       + ": choose which observation to keep for each date")
    discard = [b if prefer[a.date] == "kept" else a for a, b in plan.conflicts]
    gone = {o.id for o in discard}
    moving = [o for o in merged.observations if o.id not in gone]
    snapshot: dict[str, Any] = {
        "merged_lesion": {**lesion_snapshot(merged), "row_id": merged.id},
        "moved": [{"id": o.id, **observation_snapshot(o)} for o in moving],
        "discarded": [{"id": o.id, "from": "kept" if o.lesion_id == kept.id else "merged",
                       **observation_snapshot(o)} for o in discard],
    }
    # Treatments come along; one recorded on both lesions (same date and kind) is one treatment,
    # and the kept lesion's record of it stays.
    given = {(t.date, t.kind) for t in kept.treatments}
    treated = [t for t in merged.treatments if (t.date, t.kind) not in given]
    twice = [t for t in merged.treatments if (t.date, t.kind) in given]
    if treated:
        snapshot["moved_treatments"] = [{"id": t.id, **treatment_snapshot(t)} for t in treated]
    if twice:
        snapshot["discarded_treatments"] = [{"id": t.id, **treatment_snapshot(t)} for t in twice]
    if treated:
        session.execute(update(Treatment).where(Treatment.id.in_([t.id for t in treated]))
                        .values(lesion_id=kept.id))
    for o in discard:
        audit(session, actor, "observation.delete", "observation", o.id,
              observation_snapshot(o), None, reason=f"merge: {reason}")
    session.execute(delete(Observation).where(Observation.id.in_(gone)))
    _move(session, moving, kept)
    audit(session, actor, "lesion.merge", "lesion", kept.id, snapshot,
          {"kept_lesion": kept.external_id, "observations": len(kept.observations)
           - sum(1 for o in discard if o.lesion_id == kept.id) + len(moving)}, reason=reason)
    audit(session, actor, "lesion.merged_away", "lesion", merged.id, snapshot["merged_lesion"],
          {"merged_into": kept.external_id}, reason=reason)
    forget_cohort_subjects(session, [merged.id])  # its counts go with it
    # The merged lesion's alerts go with it (ON DELETE CASCADE): counted out of the header's
    # counts, from their rows locked against a concurrent acknowledgement.
    gone_alerts = session.execute(
        select(Alert.severity, Alert.state).where(
            Alert.lesion_id == merged.id, Alert.state != AlertState.CLEARED.value)
        .order_by(Alert.id).with_for_update()).all()
    session.execute(delete(Lesion).where(Lesion.id == merged.id))
    mark_for_assessment(kept)
    refresh_patient_summaries(session, [kept.patient_id])
    alert_counts.apply(session, alert_counts.uncleared_delta(gone_alerts))  # last, as everywhere
    session.commit()
    return kept


@dataclass(frozen=True)
class Divide:
    """One visit's film measured two deposits together: the new lesion gets `new_size_mm`,
    the old one keeps the observation with `remaining_size_mm` (longest first, as in a
    timeline). Both already checked (`ObservationIn`)."""

    new: ObservationIn
    remaining: ObservationIn


def divided_visit(observation: Observation, new_size_mm: Sequence[float],
                  remaining_size_mm: Sequence[float], path: str) -> Divide:
    """The two halves of a visit, each checked like a timeline's observation (sizes 1-3 values,
    above 0, at most 500 mm, longest first) and no longer than the whole the film measured;
    problems named under `path`."""
    if not observation.visible:
        raise InvalidInput([Problem(path, f"the observation of {observation.date} did not see "
                                          "the deposit: there is no size to divide")])
    base = observation_snapshot(observation)
    halves = []
    problems: list[Problem] = []
    whole = observation.size1_mm
    for name, sizes in (("new_size_mm", new_size_mm), ("remaining_size_mm", remaining_size_mm)):
        try:
            halves.append(validate_observation({**base, "size_mm": list(sizes)},
                                               today=observation.date))
        except InvalidInput as exc:
            problems += [Problem(f"{path}.{name}" + p.path.removeprefix("size_mm"), p.message)
                         for p in exc.problems]
            continue
        # each deposit lies within what the film measured of both together
        longest = (halves[-1].size_mm or [0.0])[0]
        if whole is not None and longest > whole:
            problems.append(Problem(f"{path}.{name}[0]", (
                f"{longest:g} mm is longer than the {whole:g} mm the film of "
                f"{observation.date} measured for both deposits together")))
    if problems or len(halves) != 2:
        raise InvalidInput(problems or [Problem(path, "sizes could not be read")])
    return Divide(halves[0], halves[1])


def split_lesion(
    session: Session,
    lesion_id: int,
    observation_ids: Sequence[int],
    *,
    new_external_id: str,
    actor: str,
    reason: str,
    site: SiteIn | None = None,
    divide: Mapping[int, tuple[Sequence[float], Sequence[float]]] | None = None,
) -> Lesion:
    """Move the chosen observations to a new lesion of the same patient, at `site` (chosen by
    the person; the old lesion's when not given). `divide` takes visits apart: observation
    id -> (the new lesion's size, the size that remains on this lesion)."""
    problems = []
    try:
        reason = _reason(reason)
    except InvalidInput as exc:
        problems += exc.problems
    if not ID_PATTERN.fullmatch(new_external_id or ""):
        problems.append(Problem("new_lesion", f"{new_external_id!r} is not a lesion id "
                                              "(1-64 of A-Z a-z 0-9 . _ -)"))
    lesion = _lock(session, (lesion_id,))[lesion_id]
    chosen = set(observation_ids)
    divide = dict(divide or {})
    moving = [o for o in lesion.observations if o.id in chosen]
    dividing = [o for o in lesion.observations if o.id in divide]
    unknown = (chosen | set(divide)) - {o.id for o in lesion.observations}
    if unknown:
        problems.append(Problem("observations", "not observations of this lesion: "
                                + ", ".join(map(str, sorted(unknown)))))
    both = chosen & set(divide)
    if both:
        problems.append(Problem("divide", "a visit is either moved or divided, not both: "
                                + ", ".join(str(o.date) for o in moving if o.id in both)))
    if not moving and not dividing:
        problems.append(Problem("observations", "choose at least one observation to move or "
                                                "one visit to divide"))
    elif len(moving) == len(lesion.observations):
        problems.append(Problem("observations", "leave at least one observation on the lesion"))
    halves: dict[int, Divide] = {}
    for o in dividing:
        try:
            halves[o.id] = divided_visit(o, *divide[o.id], path=f"divide.{o.date}")
        except InvalidInput as exc:
            problems += exc.problems
    if problems:
        raise InvalidInput(problems)
    clash = session.scalar(select(Lesion.id).where(Lesion.patient_id == lesion.patient_id,
                                                   Lesion.external_id == new_external_id))
    if clash is not None:
        raise Conflict(f"patient {lesion.patient.external_id} already has a lesion "
                       f"{new_external_id}")
    where = site.as_dict() if site is not None else {k: getattr(lesion, k) for k in SITE_FIELDS}
    new = Lesion(patient_id=lesion.patient_id, external_id=new_external_id, **where,
                 entity=lesion.entity, event_date=lesion.event_date,
                 event_kind=lesion.event_kind)
    mark_for_assessment(new)
    session.add(new)
    session.flush()
    _move(session, moving, new)
    moved = [{"id": o.id, **observation_snapshot(o)} for o in moving]
    divided = _divide(session, [(o, halves[o.id]) for o in dividing], new)
    audit(session, actor, "lesion.split", "lesion", lesion.id,
          {"observations": moved, **({"divided": divided} if divided else {})},
          {"new_lesion": new_external_id, "row_id": new.id}, reason=reason)
    audit(session, actor, "lesion.create", "lesion", new.id, None,
          {**lesion_snapshot(new), "split_from": lesion.external_id,
           "observations": sorted([m["date"] for m in moved]
                                  + [d["date"] for d in divided])}, reason=reason)
    mark_for_assessment(lesion)
    refresh_patient_summaries(session, [lesion.patient_id])
    session.commit()
    return new


def _divide(session: Session, parts: Sequence[tuple[Observation, Divide]],
            new: Lesion) -> list[dict[str, Any]]:
    """Each divided visit: the old observation keeps its row (its size becomes what remains),
    a copy of it with the new lesion's size goes to the new lesion. Returns what the audit
    keeps to undo it (the old size, the new observation's id)."""
    undo = []
    for old, half in parts:
        before = observation_snapshot(old)
        sizes = [*(half.remaining.size_mm or []), None, None, None]
        old.size1_mm, old.size2_mm, old.size3_mm = sizes[0], sizes[1], sizes[2]
        row = Observation(lesion_id=new.id, **observation_columns(half.new))
        row.feature_rows = [ObservationFeature(feature=f) for f in
                            dict.fromkeys(f.value for f in half.new.features)]
        session.add(row)
        session.flush()
        session.execute(delete(Assessment).where(Assessment.observation_id == old.id))
        undo.append({"date": before["date"], "id": old.id, "size_mm_before": before["size_mm"],
                     "remaining_size_mm": half.remaining.size_mm, "new_observation": row.id,
                     "new_size_mm": half.new.size_mm})
    return undo


def correct_site(session: Session, lesion_id: int, raw_site: Mapping[str, Any], *, actor: str,
                 reason: str | None, expected_version: int | None) -> Lesion:
    """Correct where a lesion is (compartment, region, structure, laterality); its id stays.
    Under the lesion's row lock, against the version the person read (`data_version`; None:
    any). Audited before -> after with the reason (the before undoes it); re-assessed, since
    the site decides entity suggestions and classifications (Gärtner at the shoulder only)."""
    problems: list[Problem] = []
    try:
        reason = _reason(reason)
    except InvalidInput as exc:
        problems += exc.problems
    lesion = _lock(session, (lesion_id,))[lesion_id]
    try:
        site = checked_site(dict(raw_site), entity=lesion.entity)
    except InvalidInput as exc:
        problems += exc.problems
    if problems:
        session.rollback()
        raise InvalidInput(problems)
    if expected_version is not None and lesion.data_version != expected_version:
        current = lesion.data_version
        session.rollback()
        raise StaleVersion(f"lesion {lesion.external_id} changed since it was read (version "
                           f"{expected_version}, now {current})", current)
    before = {k: getattr(lesion, k) for k in SITE_FIELDS}
    after = site.as_dict()
    if before == after:
        session.rollback()
        return lesion
    for key, value in after.items():
        setattr(lesion, key, value)
    mark_for_assessment(lesion)
    audit(session, actor, "lesion.site", "lesion", lesion.id,
          {"id": lesion.external_id, **before}, {"id": lesion.external_id, **after},
          reason=reason)
    session.flush()
    sync_alert_columns(session, [lesion.id])  # the worklist's copies of its region
    refresh_patient_summaries(session, [lesion.patient_id])
    session.commit()
    return lesion


def _reason(reason: str | None) -> str:
    return required_reason(reason, "say briefly why the lesion records change")


def parse_prefer(values: Mapping[str, str]) -> dict[date, Keep]:
    """`{"2024-03-01": "kept"|"merged"}` from a form or an API body, with problems by date."""
    out: dict[date, Keep] = {}
    problems = []
    for key, value in values.items():
        try:
            day = date.fromisoformat(key)
        except ValueError:
            problems.append(Problem(f"prefer.{key}", "is not a date (YYYY-MM-DD)"))
            continue
        if value not in ("kept", "merged"):
            problems.append(Problem(f"prefer.{key}", f"{value!r}: say kept or merged"))
            continue
        out[day] = "kept" if value == "kept" else "merged"
    if problems:
        raise InvalidInput(problems)
    return out
