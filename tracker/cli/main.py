"""The `tracker` click group: each command module registers its commands or its group here.

A new command group is one module of `tracker.cli` with a `register(main)` function, added to
`GROUPS` below (the installed command, `workers.cli`, adds `tracker report` the same way)."""

from __future__ import annotations

import click

from tracker.cli import cohort, inbox, interop, lesion, operations, pacs, show, timelines, users
from tracker.cli.suggest import SuggestingGroup

GROUPS = (timelines, show, operations, users, cohort, lesion, interop, pacs, inbox)


@click.group(cls=SuggestingGroup)
def main() -> None:
    """calcitrack: follow-up of soft-tissue calcifications and ossifications."""


for _group in GROUPS:
    _group.register(main)
