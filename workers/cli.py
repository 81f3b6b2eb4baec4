"""The installed `tracker` command: the CLI of `tracker.cli`, with this package's sender to
queue the assessments of what a command changed (tracker/ never imports workers/)."""

from __future__ import annotations

from collections.abc import Sequence

from tracker.cli import main as tracker_main


def send(lesion_ids: Sequence[int]) -> int:
    """The one sender, imported when a command has something to queue: most commands never
    do, and they should not pay for loading Celery."""
    from workers.dispatch import request_assessment

    return request_assessment(lesion_ids)


def main() -> None:
    tracker_main(obj=send)
