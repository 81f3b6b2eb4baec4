"""`tracker import-sr`, `tracker import-csv`, `tracker export-fhir`: the interoperability
commands.

highdicom and fhir.resources take most of a second to import, so only the command that needs
one imports it (and rich only when a progress bar is shown): every other `tracker` command
starts without them."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import click

from tracker.cli.edge import (
    CLI_ACTOR,
    emit,
    fail,
    queue_assessments,
    read_file,
    reports_errors,
    session,
    settings,
    write_pieces,
)
from tracker.errors import Problem
from tracker.interop import csv_rows
from tracker.queries.lookup import patient_ids
from tracker.queries.show import patient_record
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
    from tracker.interop import sr
    from tracker.pacs.models import ReportSource
    from tracker.services import reports

    files, skipped, problems = sr.collect_paths(paths)
    if problems:
        fail(problems)
    chosen = Compartment(compartment) if compartment else None
    with session() as s:
        if dry_run:
            converted = sr.convert(files, compartment=chosen, skipped=skipped)
            doc, _ = interop.prepare(s, converted, today=date.today(),
                                     compartment_hint=SR_COMPARTMENT_HINT)
            emit(doc)
            return
        outcome = reports.import_report_files(
            s, [reports.ReportFile(f.name, read_file(str(f.source), settings().max_timeline_bytes))
                for f in files], actor=CLI_ACTOR, today=date.today(), source=ReportSource.FILE,
            hold=False, compartment=chosen, hint=SR_COMPARTMENT_HINT)
    sent = queue_assessments(outcome.summary.changed_lesion_ids)
    click.echo(json.dumps({**outcome.summary.as_dict(), "assessments_queued": sent,
                           "files": len(files), "skipped": skipped}))


@click.command("export-fhir")
@click.option("--patient", "patient", default=None, help="Only this patient id.")
@click.option("-o", "--output", default=None, help="File to write (default: stdout).")
@reports_errors
def export_fhir_cmd(patient: str | None, output: str | None) -> None:
    """Write FHIR R5: one collection Bundle for --patient, else one Bundle per line (NDJSON)."""
    from tracker.interop.fhir import bundle_json, patient_bundle
    from tracker.queries.prognosis import latest_fits

    system = settings().patient_identifier_system
    with session() as s:
        if patient is not None:
            emit(bundle_json(patient_bundle(patient_record(s, patient), patient_system=system)),
                 output)
            return
        fits = latest_fits(s)
        write_pieces((json.dumps(bundle_json(patient_bundle(patient_record(s, pid, fits),
                                                            patient_system=system)),
                                 ensure_ascii=False) + "\n" for pid in patient_ids(s)), output)


PLAIN_EVERY_ROWS = 10000


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))


@contextmanager
def _progress(path: Path, what: str) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on a terminal; plain counts on stderr otherwise."""
    if sys.stderr.isatty():
        from rich.console import Console  # only on a terminal: the bar
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        with Progress(TextColumn(f"{what} {{task.description}}"), BarColumn(),
                      MofNCompleteColumn(), TimeRemainingColumn(),
                      console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(path.name, total=max(_count_lines(path) - 1, 0))
            yield lambda n: bar.update(task, completed=n)
        return
    last = [0]

    def plain(n: int) -> None:
        if n // PLAIN_EVERY_ROWS > last[0] // PLAIN_EVERY_ROWS:
            click.echo(f"{what}: {n} rows", err=True)
        last[0] = n

    yield plain
    click.echo(f"{what}: {last[0]} rows", err=True)


def _rows(path: Path, what: str) -> Iterator[csv_rows.Row]:
    with path.open(encoding="utf-8-sig", newline="") as fh, _progress(path, what) as shown:
        for n, row in enumerate(csv_rows.read_rows(fh, today=date.today()), start=1):
            shown(n)
            yield row


@click.command("import-csv")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--skip-bad", is_flag=True,
              help="Import the good rows; write the bad ones, with their errors, to --rejects.")
@click.option("--rejects", default=None,
              help="Where --skip-bad writes bad rows (default: FILE.rejects.csv).")
@reports_errors
def import_csv_cmd(file: str, skip_bad: bool, rejects: str | None) -> None:
    """Import observations from a CSV file, one row per observation (columns: README).

    Every row is checked first; by default one bad row means nothing is written."""
    path = Path(file)
    if not path.is_file():
        fail([Problem(file, "no such file")])
    try:
        bad = _check_rows(path, skip_bad, Path(rejects or f"{file}.rejects.csv"))
        if bad and not skip_bad:
            fail(bad)
        with session() as s:
            summary = interop.import_chunks(
                s, csv_rows.documents(_rows(path, "importing")), actor=CLI_ACTOR,
                today=date.today())
    except UnicodeDecodeError as exc:
        fail([Problem(file, f"is not UTF-8 text (byte {exc.start})")])
        raise
    sent = queue_assessments(summary.changed_lesion_ids)
    click.echo(json.dumps({**summary.as_dict(), "assessments_queued": sent,
                           "rows_rejected": len({p.path.split(",")[0] for p in bad})}))


def _check_rows(path: Path, skip_bad: bool, rejects: Path) -> list[Problem]:
    """Pass one: every row checked, nothing written; bad rows go to the rejects file."""
    if not skip_bad:
        return csv_rows.check(_rows(path, "checking"))[0]
    with rejects.open("w", encoding=csv_rows.REJECTS_ENCODING, newline="") as out:
        problems, bad = csv_rows.check(_rows(path, "checking"), out)
    if not bad:
        rejects.unlink()  # no bad row: leave no empty rejects file behind
    else:
        click.echo(f"{bad} bad row(s) written to {rejects}", err=True)
    return problems


def register(main: click.Group) -> None:
    for command in (import_sr_cmd, import_csv_cmd, export_fhir_cmd):
        main.add_command(command)
