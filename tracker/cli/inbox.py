"""`tracker inbox list|accept|reject`: measurement reports held for a person's input (a
compartment, which stored lesion a report's lesion is, a site calcitrack does not map)."""

from __future__ import annotations

import json
from datetime import date

import click

from tracker.cli.edge import CLI_ACTOR, emit, fail, queue_assessments, reports_errors, session
from tracker.errors import Problem
from tracker.queries.inbox import held_reports, report_json
from tracker.vocabulary import Compartment

COMPARTMENTS = [c.value for c in Compartment]
ACCEPT_HINT = " (an SR has none outside the spine): give --compartment, or --lesion"


@click.group("inbox")
def inbox_group() -> None:
    """Measurement reports held until a person completes them."""


@inbox_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Stable JSON output for scripts.")
@reports_errors
def inbox_list_cmd(as_json: bool) -> None:
    """The held reports, oldest first, with what each needs."""
    with session() as s:
        items = [report_json(r) for r in held_reports(s)]
    if as_json:
        emit({"format": "calcitrack-inbox/1", "reports": items})
        return
    if not items:
        click.echo("the inbox is empty")
    for item in items:
        click.echo(f"{item['id']}  patient {item['patient']}  written {item['written'] or '?'}"
                   f"  from {item['source']}")
        for need in item["needs"]:
            how = f" ({need['resolved_by']})" if "resolved_by" in need else ""
            click.echo(f"    {need['path']}: {need['message']}{how}")


@inbox_group.command("accept")
@click.argument("report_id", type=int)
@click.option("--compartment", type=click.Choice(COMPARTMENTS), default=None,
              help="Compartment of the report's new lesions outside the spine.")
@click.option("--lesion", "lesions", multiple=True, metavar="[REPORT_LESION=]LESION_ID",
              help="The stored lesion (of the report's patient) the report's lesion is; "
                   "REPORT_LESION=LESION_ID for a report asking about several.")
@reports_errors
def inbox_accept_cmd(report_id: int, compartment: str | None, lesions: tuple[str, ...]) -> None:
    """Import a held report with these answers and queue its assessment (audited). A report
    lesion not named is imported as a new lesion."""
    from tracker.services import reports

    single = [v for v in lesions if "=" not in v]
    named = dict(v.split("=", 1) for v in lesions if "=" in v)
    if len(single) > 1:
        fail([Problem("--lesion", "give one LESION_ID, or REPORT_LESION=LESION_ID for each of"
                                  " the report's lesions")])
    with session() as s:
        outcome = reports.accept_report(s, report_id, actor=CLI_ACTOR, today=date.today(),
                                        compartment=compartment,
                                        lesion=single[-1] if single else None, lesions=named,
                                        hint=ACCEPT_HINT)
    sent = queue_assessments(outcome.summary.changed_lesion_ids)
    click.echo(json.dumps({**outcome.summary.as_dict(), "assessments_queued": sent}))


@inbox_group.command("reject")
@click.argument("report_id", type=int)
@click.option("--reason", required=True, help="Why (kept in the audit history).")
@reports_errors
def inbox_reject_cmd(report_id: int, reason: str) -> None:
    """Take a held report out of the inbox without importing it (audited)."""
    from tracker.services import reports

    with session() as s:
        reports.reject_report(s, report_id, reason=reason, actor=CLI_ACTOR)
    click.echo(f"report {report_id} rejected")


def register(main: click.Group) -> None:
    main.add_command(inbox_group)
