"""Ask for lesions to be assessed after a commit, without tracker/ importing the workers.

The workers package registers a sender under the `calcitrack.dispatch` entry point group
(pyproject.toml). Sending is best effort by design: the lesion was already marked in the
committed transaction (`Lesion.assessment_due_at`), so if no sender is installed or the broker
is down, the periodic sweep sends it later. Nothing accepted is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import lru_cache
from importlib.metadata import entry_points

log = logging.getLogger(__name__)

Sender = Callable[[Sequence[int]], int]


@lru_cache(maxsize=1)
def _senders() -> tuple[Sender, ...]:
    found = []
    for ep in entry_points(group="calcitrack.dispatch"):
        try:
            found.append(ep.load())
        except ImportError:
            log.warning("assessment sender %s is not importable; the sweep will send", ep.value)
    return tuple(found)


def deferred_message(count: int) -> str:
    """What every entry point says when it could not queue (one wording for CLI and web)."""
    return (f"assessment of {count} changed lesion(s) is deferred: the task queue is unreachable;"
            " it runs when the queue is back")


def request_assessment(lesion_ids: Sequence[int]) -> int:
    """Queue an assessment per lesion; returns how many were handed to a broker."""
    if not lesion_ids:
        return 0
    sent = 0
    for sender in _senders():
        try:
            sent = max(sent, sender(lesion_ids))
        except Exception as exc:  # the outbox mark covers us: one line, no traceback
            log.info("%s (%s)", deferred_message(len(lesion_ids)), type(exc).__name__)
            log.debug("sending failed", exc_info=True)
    return sent
