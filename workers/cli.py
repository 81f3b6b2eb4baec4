"""The installed `tracker` command: the CLI of `tracker.cli`, with this package's sender to
queue the assessments of what a command changed (tracker/ never imports workers/)."""

from __future__ import annotations

from tracker.cli import main as tracker_main
from workers.dispatch import request_assessment


def main() -> None:
    tracker_main(obj=request_assessment)
