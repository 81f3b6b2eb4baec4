"""Store what the engine says about lesions: stages, transitions, lesion-level results, alerts.

The write side of assessment, one module per step: `load` (lock a chunk of lesions and read
what their assessment needs, in a fixed number of statements), `plan` (the engine's output
compared with what is stored: only the differences), `write` (each kind of difference sent as
one bulk statement), this module (one chunk = one transaction, and the use cases), `scan` (what
the daily scan re-assesses) and `sweep` (re-sending lost tasks).

One code path serves a single lesion (`assess_lesion`, the task run after every change) and
thousands (`scan_alerts`, `assess_lesions`): a chunk of lesions is locked, loaded, run through
the pure engine, compared with what is stored, and only the differences are written, then
committed. So a rerun writes nothing (idempotent, safe with `acks_late`), two workers on one
lesion serialise on the lesion row and the second finds nothing to change, and a scan's
statement count grows with the number of chunks, not of lesions. Each assessment also stores
`recheck_on` (pure, `tracker.recheck`): the daily scan re-assesses only lesions due by it
(`scan.due_lesions`).

Imports SQLAlchemy, the models and the engine; never Celery or `workers/` (the callers queue).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker import alert_counts
from tracker.clock import now
from tracker.engine import infer
from tracker.errors import NotFound
from tracker.facts import facts_of_row
from tracker.models import Lesion
from tracker.recheck import recheck_on
from tracker.services.assessment.load import load_lesions, lock_lesions
from tracker.services.assessment.plan import Plan, plan_assessment
from tracker.services.assessment.write import forget, write_plan
from tracker.services.cohort_subjects import refresh_cohort_subjects
from tracker.services.write_back import queue_write_backs
from tracker.summaries import refresh_patient_summaries
from tracker.tally import Tally

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 500


@dataclass(frozen=True)
class AssessOutcome:
    """What one lesion's assessment changed. `current` is False when the lesion's data changed
    while it was being assessed (its outbox mark then stays, and the next task or sweep runs)."""

    lesion_id: int
    assessed_version: int
    changed: bool
    current: bool
    opened: int
    cleared: int
    kept: int
    reopened: int
    urgent_alert_ids: tuple[int, ...] = ()


@dataclass
class ScanReport(Tally):
    """Counts over every chunk of a scan (or of a batch assessment)."""

    UNSAID: ClassVar[frozenset[str]] = frozenset({"urgent_alert_ids"})

    lesions: int = 0
    changed: int = 0
    opened: int = 0
    cleared: int = 0
    kept: int = 0
    reopened: int = 0
    failed: list[int] = field(default_factory=list)
    urgent_alert_ids: list[int] = field(default_factory=list)
    chunks: int = 0


@dataclass(frozen=True)
class ChunkResult:
    report: ScanReport
    per_lesion: dict[int, tuple[int, bool]]  # id -> (version seen, changed)


def assess_chunk(
    session: Session,
    ids: Sequence[int],
    as_of: date,
    after_lock: Callable[[], None] | None = None,
) -> ChunkResult:
    """Lock, load, infer, diff, write and commit one chunk: one transaction."""
    report = ScanReport(chunks=1)
    session.flush()  # what the caller has pending is part of what we read (as autoflush did)
    conn = session.connection()
    lock_lesions(conn, ids)
    lesions = load_lesions(conn, ids)
    if after_lock is not None:
        after_lock()
    at = now()
    plan = Plan()
    per_lesion: dict[int, tuple[int, bool]] = {}
    touched: set[int] = set()  # patients whose list row this chunk changes
    for lesion in lesions:
        try:
            facts = facts_of_row(lesion.row, lesion.observations, lesion.treatments)
            result = infer(facts, as_of)
            recheck = recheck_on(facts, as_of, result)
        except (ValueError, KeyError, TypeError) as exc:
            # A stored row the rules cannot read (changed by hand): the rest of the chunk goes
            # on; one line, the traceback only at debug level (`tracker check` names the row).
            log.warning("lesion %s could not be assessed: %s", lesion.id,
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            log.debug("assessment failed", exc_info=True)
            report.failed.append(lesion.id)
            continue
        clears, inserts = len(plan.alert_clears), len(plan.alert_inserts)
        reopens, refreshes = len(plan.alert_reopens), len(plan.alert_refreshes)
        plan_assessment(lesion, result, recheck, as_of, at, plan)
        if lesion.id in plan.changed_lesions or (clears, inserts, reopens, refreshes) != (
                len(plan.alert_clears), len(plan.alert_inserts), len(plan.alert_reopens),
                len(plan.alert_refreshes)):
            touched.add(int(lesion.row.patient_id))
        report.cleared += len(plan.alert_clears) - clears
        report.opened += len(plan.alert_inserts) - inserts
        report.reopened += len(plan.alert_reopens) - reopens
        per_lesion[lesion.id] = (lesion.row.data_version, lesion.id in plan.changed_lesions)
    report.kept = plan.kept
    report.lesions = len(lesions)
    report.changed = len(plan.changed_lesions)
    report.urgent_alert_ids = write_plan(session, conn, plan, as_of, at)
    refresh_cohort_subjects(session, [lesion.id for lesion in lesions])  # same transaction
    queue_write_backs(session, lesions, plan)  # the PACS write-back outbox, same transaction
    # Then the maintained summaries, in one order for every writer (patients, then the
    # counters: the hottest rows, shared by everyone, held for the commit only).
    refresh_patient_summaries(session, touched)
    alert_counts.apply(conn, plan.counts)
    session.commit()
    forget(session, lesions)
    return ChunkResult(report, per_lesion)


def assess_lesion(
    session: Session,
    lesion_id: int,
    as_of: date,
    *,
    after_lock: Callable[[], None] | None = None,
) -> AssessOutcome:
    """Assess one lesion as of a date and store the result in one transaction.

    Idempotent: a rerun finds nothing to change and writes nothing. `after_lock` runs once the
    lesion is locked and loaded (a test hook: it lets a test kill a worker mid-assessment).
    """
    result = assess_chunk(session, [lesion_id], as_of, after_lock)
    if lesion_id not in result.per_lesion:
        if lesion_id in result.report.failed:
            raise ValueError(f"lesion {lesion_id}: the engine could not read its observations")
        raise NotFound(f"lesion {lesion_id} does not exist")
    seen, changed = result.per_lesion[lesion_id]
    data_version = session.scalar(select(Lesion.data_version).where(Lesion.id == lesion_id))
    session.rollback()  # end the read transaction this check opened
    r = result.report
    return AssessOutcome(
        lesion_id=lesion_id,
        assessed_version=seen,
        changed=changed,
        current=data_version == seen,
        opened=r.opened,
        cleared=r.cleared,
        kept=r.kept,
        reopened=r.reopened,
        urgent_alert_ids=tuple(r.urgent_alert_ids),
    )


def chunks(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def assess_lesions(
    session: Session,
    lesion_ids: Sequence[int],
    as_of: date,
    chunk_size: int = DEFAULT_CHUNK,
    *,
    after_lock: Callable[[], None] | None = None,
) -> ScanReport:
    """Assess many lesions (a task's batch, the CLI, stale reassessment): one transaction per
    chunk. Lesions that no longer exist are skipped. `after_lock` as in `assess_lesion`."""
    total = ScanReport()
    ordered = sorted(set(lesion_ids))
    for chunk in chunks(ordered, chunk_size):
        total.add(assess_chunk(session, chunk, as_of, after_lock).report)
    return total


def batches(lesion_ids: Sequence[int], size: int) -> list[list[int]]:
    """Distinct ids in order, cut into the batches one assessment task each carries."""
    ordered = sorted(set(lesion_ids))
    return [list(chunk) for chunk in chunks(ordered, size)]
