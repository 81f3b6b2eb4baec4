"""`tracker pacs sync|status`: reading measurement reports from the PACS (DICOMWEB_URL), and how
that is going. Exit 3 when the PACS cannot be reached (nothing handled is lost; run it again)."""

from __future__ import annotations

import json
from datetime import date

import click

from tracker.cli.edge import (
    emit,
    fail,
    queue_assessments,
    reports_errors,
    session,
    settings,
)
from tracker.errors import Problem
from tracker.queries.pacs_status import pacs_status


@click.group("pacs")
def pacs_group() -> None:
    """The PACS link (DICOMweb): reading new measurement reports, and its state."""


@pacs_group.command("sync")
@click.option("--since", default=None, metavar="YYYY-MM-DD",
              help="Read reports written since this day (default: the stored watermark less "
                   "the overlap window).")
@reports_errors
def pacs_sync_cmd(since: str | None) -> None:
    """Read the measurement reports written since the last sync, import them (or hold them
    in the inbox), and queue the assessments of what changed."""
    from tracker.pacs.client import PacsClient
    from tracker.pacs.sync import require_pacs, sync_reports

    start = None
    if since is not None:
        try:
            start = date.fromisoformat(since)
        except ValueError:
            fail([Problem("--since", f"{since!r} is not a date (YYYY-MM-DD)")])
    with require_pacs(PacsClient.from_settings(settings())) as client, session() as s:
        report = sync_reports(s, client, today=date.today(), since=start)
    sent = queue_assessments(report.changed_lesion_ids)
    click.echo(json.dumps({**report.as_dict(), "assessments_queued": sent}))


@pacs_group.command("write-back")
@reports_errors
def pacs_write_back_cmd() -> None:
    """Store the due readings of the write-back outbox in the PACS now (beat does it every
    minute with PACS_WRITE_BACK=1)."""
    from tracker.pacs.client import PacsClient
    from tracker.pacs.outbox import send_write_backs
    from tracker.pacs.sync import require_pacs

    with require_pacs(PacsClient.from_settings(settings())) as client, session() as s:
        click.echo(json.dumps(send_write_backs(s, client).as_dict()))


@pacs_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Stable JSON output for scripts.")
@reports_errors
def pacs_status_cmd(as_json: bool) -> None:
    """The last successful sync, the backlog, the inbox, recent errors, the write-back."""
    with session() as s:
        status = pacs_status(s)
    if as_json:
        emit(status)
        return
    configured = "configured" if settings().dicomweb_url else "not configured (DICOMWEB_URL)"
    reports = status["reports"]
    lines = [
        f"PACS: {configured}",
        f"last successful sync: {status['last_success_at'] or 'never'}",
        f"last attempt: {status['last_attempt_at'] or 'never'}",
        f"last error: {status['last_error'] or 'none'}",
        f"watermark: {status['watermark'] or 'none'}",
        f"backlog (listed, not yet handled): {status['backlog']}",
        f"reports: {reports['imported']} imported, {reports['held']} held in the inbox,"
        f" {reports['rejected']} rejected",
        f"write-back: {status['write_back']['pending']} pending,"
        f" {status['write_back']['sent']} sent",
    ]
    for error in status["errors"]:
        lines.append(f"  report {error['id']} ({error['state']}, {error['attempts']}"
                     f" attempt(s)): {error['reason']}")
    for failing in status["write_back"]["failing"]:
        lines.append(f"  write-back {failing['id']} ({failing['attempts']} attempt(s), next"
                     f" {failing['next_attempt_at']}): {failing['error']}")
    click.echo("\n".join(lines))


def register(main: click.Group) -> None:
    main.add_command(pacs_group)
