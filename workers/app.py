"""The Celery application: JSON only, configured from `tracker.config` like the CLI and the web.

Broker: `REDIS_URL` (or `BROKER_URL`), else the embedded serverless `sqla+sqlite` broker under the
instance folder. Results are never read (`task_ignore_result`); a Redis result backend is set
only when Redis is configured. Delivery is at least once: `acks_late` plus idempotent services,
so a worker killed mid-task costs a rerun, never a lost assessment.

Redelivery bound (Redis). A task is acknowledged when it ends. If the pool process running it
dies (SIGKILL, out of memory), `task_reject_on_worker_lost` puts it back on the queue at once.
If the whole worker dies, its message stays "unacked" until VISIBILITY_TIMEOUT has passed since
delivery; every running worker then hands it back to the queue within RESTORE_SECONDS (the
`RestoreUnacked` step below; kombu alone looks only every ~100 s). So a killed worker's task is
queued again within VISIBILITY_TIMEOUT + RESTORE_SECONDS = 15.5 minutes, and runs as soon as a
worker is free; beat's sweep is a second net, not the mechanism. The timeout is fitted to the
longest a message may legitimately stay unacked: a task's run (hard limit TASK_TIME_LIMIT) or
a retry's countdown (at most RETRY_BACKOFF_MAX), plus a margin; a shorter timeout would hand a
running or waiting task to a second worker (harmless, the services are idempotent, but wasted).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, bootsteps

from tracker.config import Settings, from_env
from workers.schedule import beat_schedule

log = logging.getLogger(__name__)

# The longest task is the daily alert scan: the scan benchmark reads 10 000 lesions in seconds,
# so ten minutes leave room for a hundred times more. A task past the soft limit is told to stop
# (SoftTimeLimitExceeded, then retried by beat's next run); past the hard limit it is killed.
TASK_TIME_LIMIT = 600
TASK_SOFT_TIME_LIMIT = 540
RETRY_BACKOFF_MAX = 300  # the longest countdown before a retry (exponential backoff cap)
UNACKED_MARGIN = 300
VISIBILITY_TIMEOUT = int(os.environ.get(
    "CALCITRACK_VISIBILITY_TIMEOUT",
    str(max(TASK_TIME_LIMIT, RETRY_BACKOFF_MAX) + UNACKED_MARGIN)))  # 900 s; tests lower it


def restore_seconds(visibility_timeout: int) -> int:
    """How often each worker returns messages unacked for longer than the visibility timeout."""
    return max(1, min(30, visibility_timeout // 10))


def redelivery_bound(visibility_timeout: int) -> int:
    """Seconds after its worker died by which a task is back on the queue."""
    return visibility_timeout + restore_seconds(visibility_timeout)


RESTORE_SECONDS = restore_seconds(VISIBILITY_TIMEOUT)
DEFAULT_QUEUE = "calcitrack"
CONNECT_TIMEOUT_SECONDS = 2


def queue_name() -> str:
    """Tests give each session its own queue so that stray workers never take their tasks."""
    return os.environ.get("CALCITRACK_QUEUE", DEFAULT_QUEUE)


def celery_config(settings: Settings) -> dict[str, Any]:
    redis = settings.broker_url.startswith(("redis://", "rediss://"))
    backend = settings.result_backend
    transport: dict[str, Any] = {}
    if redis:
        transport = {
            "visibility_timeout": VISIBILITY_TIMEOUT,
            "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "socket_timeout": 30,
            "retry_on_timeout": True,
            "unacked_mutex_expire": RESTORE_SECONDS * 2,
        }
    return {
        "broker_url": settings.broker_url,
        "result_backend": backend if backend and backend.startswith(("redis", "rediss")) else None,
        "task_ignore_result": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "event_serializer": "json",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_time_limit": TASK_TIME_LIMIT,
        "task_soft_time_limit": TASK_SOFT_TIME_LIMIT,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "broker_transport_options": transport,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": CONNECT_TIMEOUT_SECONDS,
        "task_default_queue": queue_name(),
        "timezone": os.environ.get("CALCITRACK_TIMEZONE", "UTC"),
        "enable_utc": True,
        "beat_schedule": beat_schedule(settings),
        "beat_schedule_filename": str(settings.instance_path / "celerybeat-schedule"),
    }


class RestoreUnacked(bootsteps.StartStopStep):
    """Every RESTORE_SECONDS, put back on the queue the Redis messages that stayed unacked
    longer than the visibility timeout: those of a worker that died. kombu does this only at
    start-up and every ~100 s, which would make the redelivery bound depend on luck."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.tref: Any = None

    def start(self, parent: Any) -> None:
        qos = getattr(parent.task_consumer.channel, "qos", None)
        if not hasattr(qos, "restore_visible"):  # not Redis: no visibility timeout to watch
            return
        self.tref = parent.timer.call_repeatedly(RESTORE_SECONDS, self._restore, (qos,))

    @staticmethod
    def _restore(qos: Any) -> None:
        try:
            qos.restore_visible(num=None, interval=1)
        except Exception:  # the broker may be down: the next round tries again
            log.warning("could not check for unacked messages", exc_info=True)

    def stop(self, parent: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None


def make_celery(settings: Settings | None = None) -> Celery:
    app = Celery("calcitrack")
    app.conf.update(celery_config(settings or from_env()))
    app.steps["consumer"].add(RestoreUnacked)
    return app


celery = make_celery()
