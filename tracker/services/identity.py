"""Lesion identity: merge two records of one deposit, or split one record that was two.

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

from tracker.audit import audit, required_reason
from tracker.errors import Conflict, InvalidInput, NotFound, Problem
from tracker.export import lesion_snapshot, observation_snapshot, treatment_snapshot
from tracker.models import Assessment, Lesion, Observation, Treatment
from tracker.services.records import mark_for_assessment
from tracker.timeline.models import ID_PATTERN

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
    session.execute(delete(Lesion).where(Lesion.id == merged.id))
    mark_for_assessment(kept)
    session.commit()
    return kept


def split_lesion(
    session: Session,
    lesion_id: int,
    observation_ids: Sequence[int],
    *,
    new_external_id: str,
    actor: str,
    reason: str,
) -> Lesion:
    """Move the chosen observations to a new lesion of the same patient and site."""
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
    moving = [o for o in lesion.observations if o.id in chosen]
    unknown = chosen - {o.id for o in moving}
    if unknown:
        problems.append(Problem("observations", "not observations of this lesion: "
                                + ", ".join(map(str, sorted(unknown)))))
    if not moving:
        problems.append(Problem("observations", "choose at least one observation to move"))
    elif len(moving) == len(lesion.observations):
        problems.append(Problem("observations", "leave at least one observation on the lesion"))
    if problems:
        raise InvalidInput(problems)
    clash = session.scalar(select(Lesion.id).where(Lesion.patient_id == lesion.patient_id,
                                                   Lesion.external_id == new_external_id))
    if clash is not None:
        raise Conflict(f"patient {lesion.patient.external_id} already has a lesion "
                       f"{new_external_id}")
    new = Lesion(patient_id=lesion.patient_id, external_id=new_external_id,
                 compartment=lesion.compartment, region=lesion.region,
                 structure=lesion.structure, laterality=lesion.laterality, entity=lesion.entity,
                 event_date=lesion.event_date, event_kind=lesion.event_kind)
    mark_for_assessment(new)
    session.add(new)
    session.flush()
    _move(session, moving, new)
    moved = [{"id": o.id, **observation_snapshot(o)} for o in moving]
    audit(session, actor, "lesion.split", "lesion", lesion.id,
          {"observations": moved}, {"new_lesion": new_external_id, "row_id": new.id},
          reason=reason)
    audit(session, actor, "lesion.create", "lesion", new.id, None,
          {**lesion_snapshot(new), "split_from": lesion.external_id,
           "observations": [m["date"] for m in moved]}, reason=reason)
    mark_for_assessment(lesion)
    session.commit()
    return new


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
