"""The installed `tracker` command: the CLI of `tracker.cli`, with this package's sender to
queue the assessments of what a command changed (tracker/ never imports workers/), and the
printable report (`tracker report`), whose renderer (`reporting`) is imported only when it runs."""

from __future__ import annotations

from collections.abc import Sequence

import click

from tracker.cli.edge import parse_as_of, reports_errors, session, settings, write_output
from tracker.cli.main import main as tracker_main
from tracker.config import from_env


def send(lesion_ids: Sequence[int]) -> int:
    """The one sender, imported when a command has something to queue: most commands never
    do, and they should not pay for loading Celery."""
    from workers.dispatch import request_assessment

    return request_assessment(lesion_ids)


@tracker_main.command("report")
@click.argument("patient_id")
@click.option("-o", "--output", required=True, help="FILE.pdf, or FILE.html for the print page.")
@click.option("--as-of", help="Date the report is written for (default today), YYYY-MM-DD.")
@reports_errors
def report_cmd(patient_id: str, output: str, as_of: str | None) -> None:
    """Write a patient's printable follow-up report (PDF or HTML), as the web page renders it."""
    from reporting.report import report_html, report_pdf  # matplotlib: only this command
    from tracker.pacs.thumbnails import Thumbnails

    today = parse_as_of(as_of)
    institution = from_env().report_institution
    images = Thumbnails.from_settings(settings())
    with session() as s:
        if output.lower().endswith(".html"):
            write_output(report_html(s, patient_id, today=today, institution=institution,
                                     images=images), output)
        else:
            write_output(report_pdf(s, patient_id, today=today, institution=institution,
                                    images=images), output)
    click.echo(f"report for patient {patient_id} written to {output}", err=True)


def main() -> None:
    tracker_main(obj=send)
