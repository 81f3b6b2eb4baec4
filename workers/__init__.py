"""Background work: `celery -A workers worker` and `celery -A workers beat` find the app here."""

from workers import tasks as tasks  # registers the tasks on the app
from workers.app import celery

app = celery

__all__ = ["app", "celery"]
