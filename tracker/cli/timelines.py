"""`tracker import`, `export`, `infer` and `schema`: the lesion-timeline/1 file in and out."""

from __future__ import annotations

import itertools
import json
import sys
from datetime import date
from typing import Any

import click

from tracker.cli.edge import (
    CLI_ACTOR,
    emit,
    open_file,
    parse_as_of,
    queue_assessments,
    read_timeline,
    reports_errors,
    session,
    settings,
    tell_deferred,
    write_pieces,
)
from tracker.export import export_text, export_timeline
from tracker.facts import infer_timeline
from tracker.queries.check import stored_problems, would_not_import
from tracker.services import imports
from tracker.timeline.models import json_schema
from tracker.timeline.stream import PatientStream


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@reports_errors
def import_cmd(file: str) -> None:
    """Store a lesion-timeline/1 FILE in one transaction, read patient by patient; on any
    problem nothing is stored and every problem is printed."""
    with open_file(file, settings().max_timeline_bytes) as f, session() as s:
        stream = PatientStream(f, today=date.today())
        summary = imports.import_stream(s, stream, actor=CLI_ACTOR)
    sent = queue_assessments(summary.changed_lesion_ids)
    click.echo(json.dumps({**summary.as_dict(), "assessments_queued": sent}))
    tell_deferred(summary.changed_lesion_ids, sent)


@click.command("export")
@click.option("--patient", "patient", default=None, help="Only this patient id.")
@click.option("-o", "--output", default=None, help="File to write (default: stdout).")
@reports_errors
def export_cmd(patient: str | None, output: str | None) -> None:
    """Write the stored record as lesion-timeline/1 (the backup format)."""
    today = date.today()
    refused: list[str] = []

    def judge(doc: dict[str, Any]) -> None:
        if would_not_import(doc, today=today):
            refused.append(str(doc.get("id")))

    with session() as s:
        if patient is not None:
            one = export_timeline(s, patient)
            for doc in one["patients"]:
                judge(doc)
            emit(one, output)
        else:
            write_pieces(itertools.chain(export_text(s, seen=judge), ["\n"]), output)
    if refused:  # everything is written; say what an import would refuse
        shown = ", ".join(refused[:10]) + (", ..." if len(refused) > 10 else "")
        click.echo(f"warning: {len(refused)} patient(s) of this export would not import "
                   f"again ({shown}); `tracker check` names each bad row", err=True)


@click.command("check")
@reports_errors
def check_cmd() -> None:
    """Judge every stored row by the lesion-timeline/1 rules an import applies; print each bad
    one as patient / lesion / observation and exit 1 (0 when every row is valid)."""
    bad = 0
    with session() as s:
        for problem in stored_problems(s, today=date.today()):
            bad += 1
            click.echo(str(problem))
    if bad:
        click.echo(f"{bad} problem(s) in stored rows: a backup of them would not import "
                   "again; correct them (the pages, the API or `tracker import`)", err=True)
        sys.exit(1)
    click.echo("every stored row is valid")



@click.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of lesion-timeline/1."""
    emit(json_schema())


@click.command("infer")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--as-of", "as_of", default=None, help="YYYY-MM-DD (default: today).")
@reports_errors
def infer_cmd(file: str, as_of: str | None) -> None:
    """Print lesion-assessment/1 for every lesion of FILE; touches no database."""
    when = parse_as_of(as_of)
    timeline = read_timeline(file)
    emit(infer_timeline(timeline, when))



def register(main: click.Group) -> None:
    for command in (import_cmd, export_cmd, infer_cmd, schema_cmd, check_cmd):
        main.add_command(command)
