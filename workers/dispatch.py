"""The `calcitrack.dispatch` entry point: queue an assessment per lesion after a commit.

Runs in the caller's process (web request, CLI), so it must never hang it: connections time out
in about two seconds and publishing is not retried. A failure raises; the caller logs it and
the lesion's outbox mark lets the sweep send it later.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from celery import Celery
from kombu import Producer

from tracker.config import from_env
from workers.app import make_celery, queue_name

ASSESS = "calcitrack.assess_lesion"


@lru_cache(maxsize=8)
def _app(broker_url: str, queue: str) -> Celery:
    """One app (and producer pool) per broker and queue, read from the environment at call
    time: the test process points at several brokers in turn."""
    return make_celery(from_env())


def send_assessments(lesion_ids: Sequence[int]) -> int:
    """Send `calcitrack.assess_lesion` for each lesion; returns how many were sent."""
    if not lesion_ids:
        return 0
    settings = from_env()
    app = _app(settings.broker_url, queue_name())
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
        producer = Producer(conn)
        for lesion_id in lesion_ids:
            app.send_task(ASSESS, args=[int(lesion_id)], producer=producer, retry=False)
    return len(lesion_ids)
