"""`tracker import`, `export`, `infer` and `schema`: the lesion-timeline/1 file in and out."""

from __future__ import annotations

import itertools
import json
from datetime import date

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
    with session() as s:
        if patient is not None:
            emit(export_timeline(s, patient), output)
        else:
            write_pieces(itertools.chain(export_text(s), ["\n"]), output)



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
    for command in (import_cmd, export_cmd, infer_cmd, schema_cmd):
        main.add_command(command)
