"""The one sender of assessment tasks, called after a commit by the web layer, the `tracker`
command, the sweep and the daily scan's fan-out.

Runs in the caller's process (web request, CLI), so it must never hang it: connections time out
in about two seconds and publishing is not retried. Sending is best effort by design: the lesion
was already marked in the committed transaction (`Lesion.assessment_due_at`), so if the broker
is down the periodic sweep sends it later. Nothing accepted is lost.

One task carries a batch of up to ASSESS_BATCH_SIZE (200) lesion ids: an import of 10,000
lesions is 50 messages, not 10,000. Once the broker has them, the lesions are stamped
`dispatched_at`, so the sweep does not re-send a task that is merely waiting in a backlog.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from celery import Celery
from kombu import Producer
from sqlalchemy.exc import SQLAlchemyError

from tracker.config import from_env
from tracker.db import session_scope
from tracker.errors import assessment_deferred
from tracker.services.assessment.assess import batches
from tracker.services.assessment.sweep import mark_dispatched
from workers.app import make_celery, queue_name
from workers.names import ASSESS_LESIONS

# kombu's Redis transport: messages delivered to a worker and not yet acknowledged.
_UNACKED = ("unacked", "unacked_index")

log = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def _app(broker_url: str, queue: str) -> Celery:
    """One app (and producer pool) per broker and queue, read from the environment at call
    time: the test process points at several brokers in turn."""
    return make_celery(from_env())


def send_assessments(
    lesion_ids: Sequence[int], as_of: date | None = None, batch_size: int | None = None
) -> int:
    """Send `calcitrack.assess_lesions` per batch of distinct ids; returns how many lesions
    were sent. `as_of` pins the date (the daily scan); by default the worker uses its today.
    Raises when the broker cannot be reached."""
    if not lesion_ids:
        return 0
    settings = from_env()
    app = _app(settings.broker_url, queue_name())
    parts = batches([int(i) for i in lesion_ids], batch_size or settings.assess_batch_size)
    kwargs = {} if as_of is None else {"as_of": as_of.isoformat()}
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
        producer = Producer(conn)
        for part in parts:
            app.send_task(ASSESS_LESIONS, args=[part], kwargs=kwargs, producer=producer,
                          retry=False)
    sent = [i for part in parts for i in part]
    try:
        with session_scope(settings.database_url) as session:
            mark_dispatched(session, sent)
    except SQLAlchemyError as exc:  # only costs a harmless early re-send by the sweep
        # One line, never a traceback: the change and its task are both in; nothing to act on.
        log.info("%d lesion(s) sent but not stamped (%s); the sweep may send them again",
                 len(sent), type(exc).__name__)
        log.debug("stamping failed", exc_info=True)
    return len(sent)


def request_assessment(lesion_ids: Sequence[int]) -> int:
    """Queue the assessment of lesions after a commit; returns how many were handed to the
    broker (0 when it is down: the outbox mark lets the sweep send them later)."""
    try:
        return send_assessments(lesion_ids)
    except Exception as exc:  # the outbox mark covers us: one line, no traceback
        # INFO: the caller tells the person (`tracker`'s note, the web page) in its own words.
        log.info("%s (%s)", assessment_deferred(len(lesion_ids)), type(exc).__name__)
        log.debug("sending failed", exc_info=True)
        return 0


def broker_holds_nothing() -> bool:
    """Whether the broker (Redis) holds no assessment message at all: none waiting in the
    queue (any priority) and none delivered to a worker but not acknowledged. Then a lesion
    handed to it that is still unassessed lost its task (a broker that restarted without its
    data): the sweep re-sends it after the grace period instead of after RESEND_AFTER_SECONDS.
    False when it cannot tell (another broker, or Redis unreachable)."""
    settings = from_env()
    if not settings.broker_url.startswith(("redis://", "rediss://")):
        return False
    queue = queue_name()
    try:
        with _app(settings.broker_url, queue).connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
            client: Any = conn.default_channel.client  # type: ignore[attr-defined]
            waiting = sum(client.llen(key) for key in client.scan_iter(match=f"{queue}*")
                          if client.type(key) in (b"list", "list"))
            unacked = client.hlen(_UNACKED[0]) + client.zcard(_UNACKED[1])
    except Exception as exc:  # not knowing is the old rule: re-send after the long bound
        log.info("could not look into the broker (%s)", type(exc).__name__)
        return False
    return bool(waiting == 0 and unacked == 0)
