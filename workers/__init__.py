"""Background work: `celery -A workers worker` and `celery -A workers beat` find the app here.

The app and its tasks are imported on first access, so importing `workers.cli` or
`workers.dispatch` does not register the tasks (and their services) before it needs them.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("app", "celery"):
        from workers import pacs_tasks, tasks  # noqa: F401  (registers the tasks on the app)
        from workers.app import celery

        return celery
    raise AttributeError(name)
