"""The Celery application: JSON only, configured from `tracker.config` like the CLI and the web.

Broker: `REDIS_URL` (or `BROKER_URL`), else the embedded serverless `sqla+sqlite` broker under the
instance folder. Results are never read (`task_ignore_result`); a Redis result backend is set
only when Redis is configured. Delivery is at least once: `acks_late` plus idempotent services,
so a worker killed mid-task costs a rerun, never a lost assessment.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

from tracker.config import Settings, from_env
from workers.schedule import beat_schedule

# Above the longest retry countdown (tasks cap backoff at RETRY_BACKOFF_MAX): a Redis message
# not acknowledged within this time is handed to another worker, so a task waiting for its
# retry must not look lost. Tests lower it to see a killed worker's task come back quickly.
RETRY_BACKOFF_MAX = 600
VISIBILITY_TIMEOUT = int(os.environ.get("CALCITRACK_VISIBILITY_TIMEOUT", "3600"))
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


def make_celery(settings: Settings | None = None) -> Celery:
    app = Celery("calcitrack")
    app.conf.update(celery_config(settings or from_env()))
    return app


celery = make_celery()
