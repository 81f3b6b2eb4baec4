"""The write-back outbox, filled in the assessment's own transaction (`queue_write_backs`, one
call in `assessment.assess.assess_chunk`): when PACS_WRITE_BACK is on and an assessment changes
the stage of a visit read from a measurement report, one row says which SR to store in the PACS.
A task sends it later (`tracker.pacs.outbox`), so a PACS outage never blocks or fails an
assessment, and nothing is lost: the row stays until the PACS has the SR.

One row per assessment version of a visit (its data version, engine version and stage: a
unique key), so an assessment run twice queues one SR. Reads and writes nothing when the
setting is off or no stage changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.config import from_env
from tracker.db import insert_of
from tracker.pacs.models import (
    ReportObservation,
    ReportState,
    SrReport,
    WriteBack,
    WriteBackState,
)
from tracker.services.assessment.load import Loaded
from tracker.services.assessment.plan import Plan


def _changed_stages(lesions: Sequence[Loaded], plan: Plan) -> dict[int, dict[str, Any]]:
    """Observation id -> its new assessment row, for each visit whose stage the plan changes
    (a first stage is a change)."""
    stored = {o.assessment.id: (o.id, o.assessment.stage) for lesion in lesions
              for o in lesion.observations if o.assessment is not None}
    changed = {row["observation_id"]: row for row in plan.assessment_inserts}
    for row in plan.assessment_updates:
        observation_id, stage = stored[row["b_id"]]
        if row["stage"] != stage:
            changed[observation_id] = row
    return changed


def queue_write_backs(session: Session, lesions: Sequence[Loaded], plan: Plan) -> int:
    """Outbox rows for the visits read from a report whose stage this plan changes; how many
    were queued. Runs inside the assessment's transaction; the caller commits."""
    settings = from_env()
    if not (settings.pacs_write_back and settings.dicomweb_url):
        return 0
    changed = _changed_stages(lesions, plan)
    if not changed:
        return 0
    sources = dict(session.execute(
        select(ReportObservation.observation_id, func.max(ReportObservation.report_id))
        .join(SrReport, SrReport.id == ReportObservation.report_id)
        .where(ReportObservation.observation_id.in_(sorted(changed)),
               SrReport.state == ReportState.IMPORTED.value)
        .group_by(ReportObservation.observation_id)).tuples().all())
    if not sources:
        return 0
    owner = {o.id: lesion for lesion in lesions for o in lesion.observations}
    follow_up = {u["b_id"]: u["next_follow_up"] for u in plan.lesion_updates}
    rows = []
    for observation_id, report_id in sorted(sources.items()):
        lesion, stage = owner[observation_id], changed[observation_id]
        rows.append({
            "observation_id": observation_id, "report_id": report_id,
            "stage": stage["stage"], "confidence": stage["confidence"],
            "next_follow_up": follow_up.get(lesion.id, lesion.row.next_follow_up),
            "engine_version": stage["engine_version"], "data_version": lesion.row.data_version,
            "assessed_at": stage["assessed_at"], "state": WriteBackState.PENDING.value,
            "attempts": 0, "next_attempt_at": stage["assessed_at"],
            "created_at": stage["assessed_at"]})
    session.execute(insert_of(session, WriteBack).on_conflict_do_nothing(
        index_elements=["observation_id", "data_version", "engine_version", "stage"]), rows)
    return len(rows)
