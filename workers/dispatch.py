"""The one sender of assessment tasks, called after a commit by the web layer, the `tracker`
command and the sweep.

Runs in the caller's process (web request, CLI), so it must never hang it: connections time out
in about two seconds and publishing is not retried. Sending is best effort by design: the lesion
was already marked in the committed transaction (`Lesion.assessment_due_at`), so if the broker
is down the periodic sweep sends it later. Nothing accepted is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

from celery import Celery
from kombu import Producer

from tracker.config import from_env
from workers.app import make_celery, queue_name
from workers.names import ASSESS_LESION

log = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def _app(broker_url: str, queue: str) -> Celery:
    """One app (and producer pool) per broker and queue, read from the environment at call
    time: the test process points at several brokers in turn."""
    return make_celery(from_env())


def send_assessments(lesion_ids: Sequence[int]) -> int:
    """Send `calcitrack.assess_lesion` for each lesion; returns how many were sent. Raises
    when the broker cannot be reached."""
    if not lesion_ids:
        return 0
    settings = from_env()
    app = _app(settings.broker_url, queue_name())
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
        producer = Producer(conn)
        for lesion_id in lesion_ids:
            app.send_task(ASSESS_LESION, args=[int(lesion_id)], producer=producer, retry=False)
    return len(lesion_ids)


def request_assessment(lesion_ids: Sequence[int]) -> int:
    """Queue an assessment per lesion after a commit; returns how many were handed to the
    broker (0 when it is down: the outbox mark lets the sweep send them later)."""
    try:
        return send_assessments(lesion_ids)
    except Exception:  # the outbox mark covers us; say so and go on
        log.warning("could not queue assessment of %d lesion(s); the sweep will",
                    len(lesion_ids), exc_info=True)
        return 0
