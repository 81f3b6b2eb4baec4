"""Batched assessment with real workers on Redis + PostgreSQL: one task per batch of lesion
ids, a backlog is not re-sent by the sweep, a killed worker loses nothing, and the daily scan
fans its due lesions out so that several workers share the day."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from testkit.cohort import generate, insert_rows
from tests.workers.conftest import VISIBILITY_TIMEOUT, held, holding, sweep_now, wait_for
from tracker.db import session_scope
from tracker.engine import infer
from tracker.facts import facts_of_row
from tracker.models import Alert, Lesion, Observation
from tracker.vocabulary import AlertState
from workers import dispatch
from workers.app import make_celery

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


def cohort(url: str, n: int, *, changed: bool = True) -> list[int]:
    """n lesions of every family; `changed`: marked for assessment, as after an import."""
    insert_rows(url, generate(n, seed=n, start=date(2023, 1, 2), span_days=300))
    with session_scope(url) as s:
        if changed:
            s.execute(update(Lesion).values(assessment_due_at=func.now()))
            s.commit()
        return list(s.scalars(select(Lesion.id).order_by(Lesion.id)))


def assessed_count(url: str) -> int:
    with session_scope(url) as s:
        return int(s.scalar(select(func.count()).where(
            Lesion.assessed_version == Lesion.data_version,
            Lesion.assessment_due_at.is_(None))) or 0)


def test_a_large_change_is_a_few_batch_tasks_and_the_sweep_leaves_the_backlog_alone(
    worker_env: dict[str, str], start_worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = worker_env["DATABASE_URL"]
    monkeypatch.setenv("ASSESS_BATCH_SIZE", "50")
    ids = cohort(url, 120)

    assert dispatch.request_assessment(ids) == 120  # three messages of <= 50 ids
    # No worker yet: the tasks wait in the queue. The sweep (even with no grace) sees they
    # were handed to the broker and does not send them again.

    assert sweep_now() == {"pending": 0, "queued": 0}

    worker = start_worker({**worker_env, "ASSESS_BATCH_SIZE": "50"})
    wait_for(lambda: assessed_count(url) == 120, 120, interval=0.5, what="120 assessments")
    wait_for(lambda: len(worker.succeeded()) == 3, 10, what="three batch tasks")
    time.sleep(1)  # nothing else arrives: each lesion was sent once
    assert len(worker.succeeded()) == 3
    assert "calcitrack.assess_lesion[" not in worker.text()  # no per-lesion message


def test_worker_killed_mid_batch_loses_nothing(
    worker_env: dict[str, str], start_worker: Any, tmp_path: Path
) -> None:
    url = worker_env["DATABASE_URL"]
    hold, paused = holding(tmp_path)
    doomed = start_worker(worker_env, "doomed", **paused)
    ids = cohort(url, 40)
    assert dispatch.request_assessment(ids) == 40  # one batch

    marker = held(hold, "the batch to hold its locked lesions")
    doomed.kill9()
    assert assessed_count(url) == 0  # the chunk's transaction died with the worker

    delivered = marker.stat().st_mtime
    wait_for(lambda: time.time() > delivered + VISIBILITY_TIMEOUT + 0.5, VISIBILITY_TIMEOUT + 5,
             what="the visibility timeout")
    survivor = start_worker(worker_env, "survivor")
    wait_for(lambda: assessed_count(url) == 40, 60, what="the redelivered batch")
    wait_for(lambda: survivor.succeeded(), 10, what="the batch's success line")
    assert len(survivor.succeeded()) == 1
    assert "'lesions': 40" in survivor.succeeded()[0]


def test_the_daily_scan_fans_what_is_due_out_to_every_worker(
    worker_env: dict[str, str], start_worker: Any
) -> None:
    url = worker_env["DATABASE_URL"]
    cohort(url, 100, changed=False)  # never assessed: all due
    env = {**worker_env, "ASSESS_BATCH_SIZE": "10"}
    workers = [start_worker(env, "a", wait=False), start_worker(env, "b", wait=False)]
    for w in workers:
        w.wait_ready()

    make_celery().send_task("calcitrack.scan_alerts", kwargs={"as_of": "2024-06-01"})

    wait_for(lambda: sum(len(w.succeeded()) for w in workers) == 10, 120, interval=0.5,
             what="ten batches of ten")
    assert all(w.succeeded() for w in workers), "one worker did the whole day"
    assert assessed_count(url) == 100
    scan_line = [ln for w in workers for ln in w.succeeded("calcitrack.scan_alerts")]
    assert len(scan_line) == 1 and "'due': 100" in scan_line[0]
    with session_scope(url) as s:
        lesions = s.scalars(select(Lesion).options(
            selectinload(Lesion.observations).selectinload(Observation.feature_rows),
            selectinload(Lesion.treatments)))
        expected = {(le.id, a.kind.value, a.since, a.reason)
                    for le in lesions for a in infer(facts_of_row(le), date(2024, 6, 1)).alerts}
        got = {(a.lesion_id, a.kind, a.since, a.reason)
               for a in s.scalars(select(Alert).where(Alert.state != AlertState.CLEARED.value))}
    assert got == expected and got

    # The next day only what is due is sent: far fewer than the hundred.
    make_celery().send_task("calcitrack.scan_alerts", kwargs={"as_of": "2024-06-02"})
    wait_for(lambda: sum(len(w.succeeded("calcitrack.scan_alerts")) for w in workers) == 2,
             60, what="the second scan")
    scans = [ln for w in workers for ln in w.succeeded("calcitrack.scan_alerts")]
    assert sorted("'due': 100" in ln for ln in scans) == [False, True]
