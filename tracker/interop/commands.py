"""`tracker import-sr`, `tracker import-csv`, `tracker export-fhir`: the interoperability
commands, registered on the `tracker` group by `tracker.cli`."""

from __future__ import annotations

import json
from datetime import date

import click

from tracker import dispatch
from tracker.cli import CLI_ACTOR, emit, fail, reports_errors, session
from tracker.errors import Problem
from tracker.interop import sr
from tracker.interop.fhir import bundle_json, patient_bundle
from tracker.queries import patient_ids, patient_record
from tracker.services import interop
from tracker.vocabulary import Compartment

COMPARTMENTS = [c.value for c in Compartment]
SR_COMPARTMENT_HINT = (
    " (an SR has none outside the spine): give --compartment "
    + "|".join(COMPARTMENTS) + ", or import the lesion first")


@click.command("import-sr")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--compartment", type=click.Choice(COMPARTMENTS), default=None,
              help="Compartment of new lesions outside the spine (an SR does not say).")
@click.option("--dry-run", is_flag=True, help="Print the timeline that would be imported.")
@reports_errors
def import_sr_cmd(paths: tuple[str, ...], compartment: str | None, dry_run: bool) -> None:
    """Import DICOM SR measurement reports (TID 1500): files, or folders of them.

    The whole batch is validated first; on any problem nothing is written."""
    files, skipped, problems = sr.collect_paths(paths)
    if problems:
        fail(problems)
    converted = sr.convert(files, compartment=Compartment(compartment) if compartment else None,
                           skipped=skipped)
    with session() as s:
        if dry_run:
            doc, _ = interop.prepare(s, converted, today=date.today(),
                                     compartment_hint=SR_COMPARTMENT_HINT)
            emit(doc)
            return
        summary = interop.import_converted(s, converted, actor=CLI_ACTOR, today=date.today(),
                                           compartment_hint=SR_COMPARTMENT_HINT)
    sent = dispatch.request_assessment(summary.changed_lesion_ids)
    click.echo(json.dumps({**summary.as_dict(), "assessments_queued": sent,
                           "files": len(files), "skipped": skipped}))


@click.command("export-fhir")
@click.option("--patient", "patient", default=None, help="Only this patient id.")
@click.option("-o", "--output", default=None, help="File to write (default: stdout).")
@reports_errors
def export_fhir_cmd(patient: str | None, output: str | None) -> None:
    """Write FHIR R5: one collection Bundle for --patient, else one Bundle per line (NDJSON)."""
    with session() as s:
        if patient is not None:
            emit(bundle_json(patient_bundle(patient_record(s, patient))), output)
            return
        lines = [json.dumps(bundle_json(patient_bundle(patient_record(s, pid))),
                            ensure_ascii=False) for pid in patient_ids(s)]
    text = "".join(line + "\n" for line in lines)
    if output in (None, "-"):
        click.echo(text, nl=False)
        return
    try:
        with open(str(output), "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:  # e.g. no such directory, permission denied
        fail([Problem(str(output), f"cannot be written: {exc.strerror or exc}")])


COMMANDS: tuple[click.Command, ...] = (import_sr_cmd, export_fhir_cmd)
