"""The worker app of tests that must catch an assessment at a given moment: `celery -A
tests.workers.holding worker`. It is the production app with a pause added at
`CALCITRACK_TEST_HOLD_AT`: `before_lock` (when the task starts, through Celery's `task_prerun`
signal) or `after_lock` (the service's `after_lock` callback, once the lesion is locked and
loaded). At that point the worker says so with a file in `CALCITRACK_TEST_HOLD_DIR` and waits
until the test creates `release` there; so a test can kill a worker mid-assessment or start
two assessments at the same moment."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from celery.signals import task_prerun
from sqlalchemy.orm import Session

from tracker.services.assessment import assess
from workers import celery
from workers.names import ASSESS_LESION, ASSESS_LESIONS

app = celery  # what `celery -A tests.workers.holding` runs

HOLD = Path(os.environ["CALCITRACK_TEST_HOLD_DIR"])
AT = os.environ.get("CALCITRACK_TEST_HOLD_AT", "after_lock")


def hold() -> None:
    (HOLD / f"started-{os.getpid()}-{time.monotonic_ns()}").touch()
    deadline = time.monotonic() + 300
    while not (HOLD / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def _before_lock(sender: Any = None, **_: Any) -> None:
    if getattr(sender, "name", None) in (ASSESS_LESION, ASSESS_LESIONS):
        hold()


_assess_lesion = assess.assess_lesion
_assess_lesions = assess.assess_lesions


def _assess_lesion_holding(session: Session, lesion_id: int, as_of: date, *,
                           after_lock: Callable[[], None] | None = None
                           ) -> assess.AssessOutcome:
    return _assess_lesion(session, lesion_id, as_of, after_lock=hold)


def _assess_lesions_holding(session: Session, lesion_ids: Sequence[int], as_of: date,
                            chunk_size: int = assess.DEFAULT_CHUNK, *,
                            after_lock: Callable[[], None] | None = None
                            ) -> assess.ScanReport:
    return _assess_lesions(session, lesion_ids, as_of, chunk_size, after_lock=hold)


if AT == "before_lock":
    task_prerun.connect(_before_lock, weak=False)
else:
    assess.assess_lesion = _assess_lesion_holding  # type: ignore[assignment]
    assess.assess_lesions = _assess_lesions_holding  # type: ignore[assignment]
