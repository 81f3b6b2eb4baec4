"""The `tracker` command. It calls the services directly and never builds the Flask app.

Results go to stdout, problems to stderr, one line each and never a traceback. Exit codes:
0 ok, 1 not found or conflict, 2 invalid input (every problem printed with its path),
3 service unavailable (the database cannot be reached or opened; nothing was done, try again).
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Any, BinaryIO, ParamSpec, TypeVar

import click
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from tracker import demo
from tracker.cohort import (
    STRATA,
    CohortFilter,
    curves_csv,
    figure_bytes,
    kaplan_meier,
    km_figure,
    subjects,
    waterfall_figure,
)
from tracker.config import Settings, from_env
from tracker.db import (
    UNAVAILABLE,
    missing_sqlite_file,
    safe_url,
    session_scope,
    unavailable_reason,
)
from tracker.demo import DEMO_PREFIX
from tracker.errors import (
    CalcitrackError,
    InvalidInput,
    NotFound,
    Problem,
    ServiceUnavailable,
    assessment_deferred,
)
from tracker.export import export_text, export_timeline
from tracker.facts import infer_timeline
from tracker.models import Lesion, Observation, Patient
from tracker.queries.lookup import patient_exists, stored_patient_id
from tracker.queries.show import patient_record
from tracker.queries.to_assess import all_lesions, lesions_of_patient, stale_lesions
from tracker.services import imports, users
from tracker.services.assessment.assess import assess_lesions
from tracker.services.assessment.scan import scan_alerts
from tracker.services.assessment.sweep import sweep_pending
from tracker.services.identity import merge_lesions, parse_prefer, split_lesion
from tracker.timeline.models import Timeline, json_schema
from tracker.timeline.reader import load_timeline
from tracker.timeline.stream import PatientStream
from tracker.vocabulary import Compartment, Entity, Region, Role

P = ParamSpec("P")
R = TypeVar("R")

CLI_ACTOR = "cli"
EXIT_NOT_FOUND, EXIT_INVALID, EXIT_UNAVAILABLE = 1, 2, 3
Sender = Callable[[Sequence[int]], int]
log = logging.getLogger(__name__)


def fail(problems: list[Problem], code: int = 2) -> None:
    for p in problems:
        click.echo(f"error: {p}", err=True)
    sys.exit(code)


def database_unavailable(exc: BaseException) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"database unavailable at {safe_url(settings().database_url)}: "
        f"{unavailable_reason(exc)}; check that it is running and that DATABASE_URL points to it"
    )


def reports_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Map the error hierarchy to exit codes at this one edge. Database errors become one line
    without the statement, its parameters or the server's detail (patient data)."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except InvalidInput as exc:
            note = exc.omitted_note
            fail(exc.problems + ([Problem("", note)] if note else []), EXIT_INVALID)
        except ServiceUnavailable as exc:
            fail([Problem("", str(exc))], EXIT_UNAVAILABLE)
        except CalcitrackError as exc:
            fail([Problem("", str(exc))], EXIT_NOT_FOUND)
        except UNAVAILABLE as exc:
            fail([Problem("", str(database_unavailable(exc)))], EXIT_UNAVAILABLE)
        except StaleDataError:
            fail([Problem("", "a record changed while this command ran; nothing was stored: "
                              "run it again")], EXIT_NOT_FOUND)
        except DBAPIError as exc:
            log.debug("database error", exc_info=True)
            fail([Problem("", f"the database refused the change ({type(exc.orig).__name__});"
                              " nothing was stored")], EXIT_NOT_FOUND)
        raise AssertionError("unreachable")

    return wrapper


def settings() -> Settings:
    return from_env()


@contextmanager
def session() -> Iterator[Session]:
    url = settings().database_url
    missing = missing_sqlite_file(url)
    if missing is not None:
        raise ServiceUnavailable(
            f"no database at {missing}: run `tracker db upgrade` to create it there, or set "
            "DATABASE_URL (or CALCITRACK_INSTANCE, the folder of the embedded database)"
        )
    with session_scope(url) as s:
        yield s


def tell_deferred(lesion_ids: Sequence[int], sent: int) -> None:
    """One line when the queue could not take the assessments (the change itself is stored).
    Without a sender (the bare `tracker.cli`), the workers' sweep sends them: nothing to say."""
    has_sender = callable(click.get_current_context().find_root().obj)
    if has_sender and sent < len(lesion_ids):
        click.echo(f"note: {assessment_deferred(len(lesion_ids) - sent)}", err=True)


def parse_as_of(value: str | None, option: str = "--as-of") -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail([Problem(option, f"{value!r} is not a date (YYYY-MM-DD)")])
        raise


def read_timeline(path: str) -> Timeline:
    """A timeline file, read within the size limit and validated whole (import and infer)."""
    limit = settings().max_timeline_bytes
    return load_timeline(read_file(path, limit), today=date.today(), max_bytes=limit)


def read_file(path: str, max_bytes: int) -> bytes:
    with open_file(path, max_bytes) as f:
        return f.read()


def open_file(path: str, max_bytes: int) -> BinaryIO:
    """A file opened for reading once it is known to exist and to fit the size limit."""
    p = Path(path)
    if not p.is_file():
        fail([Problem(path, "no such file")])
    size = p.stat().st_size
    if size > max_bytes:
        fail([Problem(path, f"file is {size} bytes; the limit is {max_bytes} bytes")])
    try:
        return p.open("rb")
    except OSError as exc:  # e.g. permission denied
        fail([Problem(path, f"cannot be read: {exc.strerror or exc}")])
        raise


def emit(doc: Any, output: str | None = None) -> None:
    write_output(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", output)


def write_pieces(pieces: Iterable[str], output: str | None) -> None:
    """A long text written as it is produced (an export of the whole database). A file is
    written beside its final name and renamed when complete, so a failure midway leaves no
    truncated backup behind."""
    if output in (None, "-"):
        for piece in pieces:
            click.echo(piece, nl=False)
        return
    target = Path(str(output))
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as fh:
            for piece in pieces:
                fh.write(piece)
        partial.replace(target)
    except OSError as exc:  # e.g. no such directory, permission denied
        partial.unlink(missing_ok=True)
        fail([Problem(str(output), f"cannot be written: {exc.strerror or exc}")])
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_output(data: str | bytes, output: str | None) -> None:
    """Text or bytes to stdout (`None` or `-`) or to a file, with a clear error if it cannot."""
    if output in (None, "-"):
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
        else:
            click.echo(data, nl=False)
        return
    try:
        if isinstance(data, bytes):
            Path(str(output)).write_bytes(data)
        else:
            Path(str(output)).write_text(data, encoding="utf-8")
    except OSError as exc:  # e.g. no such directory, permission denied
        fail([Problem(str(output), f"cannot be written: {exc.strerror or exc}")])


def queue_assessments(lesion_ids: Sequence[int]) -> int:
    """Hand the changed lesions to the sender the command was started with (the installed
    command passes the workers' one as `obj`); without one, their committed outbox mark lets
    the workers' sweep send them. Returns how many were queued."""
    send = click.get_current_context().find_root().obj
    return send(lesion_ids) if callable(send) and lesion_ids else 0


@click.group()
def main() -> None:
    """calcitrack: follow-up of soft-tissue calcifications and ossifications."""


@main.command("import")
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


@main.command("export")
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


@main.command("show")
@click.argument("patient_id")
@click.option("--json", "as_json", is_flag=True, help="Stable machine-readable output.")
@reports_errors
def show_cmd(patient_id: str, as_json: bool) -> None:
    """Print what is stored for a patient: lesions, stages, transitions, open alerts."""
    with session() as s:
        record = patient_record(s, patient_id)
    if as_json:
        emit(record)
        return
    click.echo(render_record(record))


def render_record(record: dict[str, Any]) -> str:
    lines = [f"Patient {record['patient']}"
             + (f" (born {record['birth_year']})" if record["birth_year"] else "")]
    for lesion in record["lesions"]:
        site = lesion["site"]
        a = lesion["assessment"]
        suggested = f"{a['entity']} (suggested)" if a["entity"] else "undiagnosed"
        entity = lesion["entity"] or suggested
        lines.append("")
        lines.append(
            f"  Lesion {lesion['lesion']}: {site['laterality']} {site['region']}"
            + (f", {site['structure']}" if site["structure"] else "")
            + f" [{site['compartment']}], {entity}"
        )
        lines.append(
            f"    stage: {a['stage']}   next follow-up: {a['next_follow_up'] or '-'}"
        )
        for o in lesion["observations"]:
            size = "x".join(f"{s:g}" for s in o.get("size_mm", [])) or "not seen"
            conf = f" ({o['confidence']:.2f})" if "confidence" in o else ""
            lines.append(f"    {o['date']} {o['modality']:<2} {size:<12} {o['stage']}{conf}")
        for t in lesion["transitions"]:
            lines.append(f"    transition {t['date']}: {t['from']} -> {t['to']}")
        for al in lesion["alerts"]:
            lines.append(
                f"    ALERT {al['severity'].upper()} {al['kind']} since {al['since']}"
                f" [{al['state']}]: {al['reason']}"
            )
    return "\n".join(lines)


@main.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of lesion-timeline/1."""
    emit(json_schema())


@main.command("infer")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--as-of", "as_of", default=None, help="YYYY-MM-DD (default: today).")
@reports_errors
def infer_cmd(file: str, as_of: str | None) -> None:
    """Print lesion-assessment/1 for every lesion of FILE; touches no database."""
    when = parse_as_of(as_of)
    timeline = read_timeline(file)
    emit(infer_timeline(timeline, when))


@main.command("demo")
@reports_errors
def demo_cmd() -> None:
    """Load the demo cohort once (nothing happens if it is already there)."""
    with session() as s:
        if patient_exists(s, f"{DEMO_PREFIX}001"):
            click.echo("demo cohort already loaded")
            return
        summary = imports.import_timeline(s, demo.timeline(date.today()), actor="demo")
    sent = queue_assessments(summary.changed_lesion_ids)
    tell_deferred(summary.changed_lesion_ids, sent)
    click.echo(
        f"demo cohort loaded: {summary.patients_created} patients, "
        f"{summary.lesions_created} lesions, {summary.observations_created} observations"
        f" ({sent} assessments queued)"
    )


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head")
@reports_errors
def db_upgrade(revision: str) -> None:
    """Migrate the configured database (DATABASE_URL) to the latest schema."""
    from tracker import migrate  # alembic: only this command needs it

    url = settings().database_url
    try:
        migrate.upgrade(url, revision)
    except OSError as exc:  # the embedded database's folder cannot be created
        raise ServiceUnavailable(
            f"cannot create the database at {safe_url(url)}: {exc.strerror or exc}; set "
            "CALCITRACK_INSTANCE to a writable folder, or DATABASE_URL"
        ) from None
    click.echo(f"database at {revision}")


# --------------------------------------------------------------------------- assessment


@main.command("assess")
@click.option("--all", "all_", is_flag=True, help="Every lesion.")
@click.option("--patient", "patient", default=None, help="Every lesion of this patient id.")
@click.option("--stale", is_flag=True, help="Lesions never assessed or by another engine.")
@click.option("--as-of", "as_of", default=None, help="YYYY-MM-DD (default: today).")
@reports_errors
def assess_cmd(all_: bool, patient: str | None, stale: bool, as_of: str | None) -> None:
    """Assess lesions in this process (the service the workers run), and store the result."""
    if sum((all_, patient is not None, stale)) != 1:
        fail([Problem("assess", "give exactly one of --all, --patient ID, --stale")])
    when = parse_as_of(as_of)
    with session() as s:
        if patient is not None:
            ids = lesions_of_patient(s, patient)
        elif stale:
            ids = stale_lesions(s)
        else:
            ids = all_lesions(s)
        report = assess_lesions(s, ids, when)
    click.echo(json.dumps(report.as_dict()))


@main.command("scan")
@click.option("--as-of", "as_of", default=None, help="YYYY-MM-DD (default: today).")
@reports_errors
def scan_cmd(as_of: str | None) -> None:
    """Re-assess what is due (time-dependent alerts, ended snoozes, stale); print counts."""
    when = parse_as_of(as_of)
    with session() as s:
        report = scan_alerts(s, when)
    click.echo(json.dumps({"as_of": when.isoformat(), **report.as_dict()}))


@main.command("sweep")
@click.option("--grace-seconds", type=int, default=None,
              help="Only changes older than this (default: SWEEP_GRACE_SECONDS).")
@reports_errors
def sweep_cmd(grace_seconds: int | None) -> None:
    """Re-send the assessment of every lesion whose change is still unassessed."""
    config = settings()
    grace = config.sweep_grace_seconds if grace_seconds is None else grace_seconds
    with session() as s:
        ids = sweep_pending(s, grace, config.resend_after_seconds)
    sent = queue_assessments(ids)
    click.echo(json.dumps({"pending": len(ids), "queued": sent}))
    tell_deferred(ids, sent)


# --------------------------------------------------------------------------- users (web layer)


@main.group("user")
def user_group() -> None:
    """People who sign in to the web pages, and API tokens for machine clients."""


@user_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]),
              default="clinician", show_default=True)
@click.option("--password", default=None,
              help="Password (prompted, hidden, when not given; at least 10 characters, "
                   "not easy to guess).")
@reports_errors
def user_add_cmd(username: str, role: str, password: str | None) -> None:
    """Add a user who signs in to the web pages."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with session() as s:
        made = users.create_user(s, username, str(password), role, actor=CLI_ACTOR)
    click.echo(f"user {made.username} added ({made.role.value})")


@user_group.command("password")
@click.argument("username")
@click.option("--password", default=None, help="New password (prompted, hidden, when not given).")
@reports_errors
def user_password_cmd(username: str, password: str | None) -> None:
    """Set a new password for USERNAME; every session of theirs is signed out."""
    if password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    with session() as s:
        users.set_password(s, username, str(password), actor=CLI_ACTOR)
    click.echo(f"password of {username} changed; their sessions are signed out")


@user_group.command("token")
@click.argument("username")
@click.argument("name")
@reports_errors
def user_token_cmd(username: str, name: str) -> None:
    """Issue an API token NAME for USERNAME; it is printed once and stored only hashed."""
    with session() as s:
        token = users.issue_token(s, username, name, actor=CLI_ACTOR)
    click.echo(token)


@user_group.command("demo")
@click.option("--print-password", is_flag=True, help="Only print the demo user's password.")
@reports_errors
def user_demo_cmd(print_password: bool) -> None:
    """Create the `demo` admin once, with a random password kept in the instance folder."""
    cfg = settings()
    secret = Path(cfg.instance_path) / "demo-password"
    if not secret.exists():
        try:
            secret.parent.mkdir(parents=True, exist_ok=True)
            secret.write_text(secrets.token_urlsafe(12) + "\n", encoding="utf-8")
            secret.chmod(0o600)
        except OSError as exc:
            raise ServiceUnavailable(
                f"cannot write {secret}: {exc.strerror or exc}; set CALCITRACK_INSTANCE to a "
                "writable folder"
            ) from None
    password = secret.read_text(encoding="utf-8").strip()
    if print_password:
        click.echo(password)
        return
    with session() as s:
        if users.user_exists(s, "demo"):
            click.echo("demo user already exists")
            return
        users.create_user(s, "demo", password, Role.ADMIN.value, actor=CLI_ACTOR)
    click.echo(f"demo user added (password in {secret})")


# --------------------------------------------------------------------------- cohort outcomes

def _cohort_options(fn: Callable[P, R]) -> Callable[P, R]:
    for name, codes in (("compartment", Compartment), ("region", Region), ("entity", Entity)):
        fn = click.option(f"--{name}", type=click.Choice([c.value for c in codes]),
                          help=f"Only lesions of this {name}.")(fn)
    return fn


def _figure_format(output: str, allowed: tuple[str, ...]) -> str:
    fmt = Path(output).suffix.lstrip(".").lower()
    if fmt not in allowed:
        fail([Problem("--output", f"{output!r}: the file name must end in "
                      + " or ".join(f".{a}" for a in allowed))])
    return fmt


@main.group("cohort")
def cohort_group() -> None:
    """Cohort outcomes from the stored assessments."""


@cohort_group.command("km")
@click.option("--by", type=click.Choice(STRATA), help="Split into one curve per group.")
@_cohort_options
@click.option("-o", "--output", help="FILE.csv (the curve table), .png or .svg; default: CSV "
              "on stdout.")
@reports_errors
def cohort_km_cmd(by: str | None, entity: str | None, region: str | None,
                  compartment: str | None, output: str | None) -> None:
    """Time to resolution (Kaplan–Meier): first visible observation to first `resolved`."""
    fmt = "csv" if output in (None, "-") else _figure_format(str(output), ("csv", "png", "svg"))
    with session() as s:
        items, skipped = subjects(s, CohortFilter(entity, region, compartment))
    if not items:
        fail([Problem("cohort", f"no assessed lesion matches ({skipped} not assessed yet or "
                      "never seen)")], 1)
    if fmt == "csv":
        write_output(curves_csv(kaplan_meier(items, by)), output)
    else:
        write_output(figure_bytes(km_figure(items, by), fmt), output)
    for curve in kaplan_meier(items, by):
        median = "not reached" if curve.median_days is None else f"{curve.median_days:.0f} days"
        click.echo(f"{curve.group}: {curve.n} lesions, {curve.events} resolved, "
                   f"median {median}", err=True)


@cohort_group.command("waterfall")
@_cohort_options
@click.option("-o", "--output", required=True, help="FILE.png or FILE.svg")
@reports_errors
def cohort_waterfall_cmd(entity: str | None, region: str | None, compartment: str | None,
                         output: str) -> None:
    """Best % change from baseline per lesion, coloured by entity."""
    fmt = _figure_format(output, ("png", "svg"))
    with session() as s:
        items, _ = subjects(s, CohortFilter(entity, region, compartment))
    write_output(figure_bytes(waterfall_figure(items), fmt), output)


# --------------------------------------------------------------------------- lesion identity


def _lesion_id(s: Session, patient_id: str, lesion: str) -> int:
    row = s.scalar(select(Lesion.id).join(Patient, Patient.id == Lesion.patient_id).where(
        Patient.external_id == stored_patient_id(s, patient_id), Lesion.external_id == lesion))
    if row is None:
        raise NotFound(f"patient {patient_id} has no lesion {lesion}")
    return row


@main.group("lesion")
def lesion_group() -> None:
    """Lesion identity: merge two records of one deposit, or split one that was two."""


@lesion_group.command("merge")
@click.argument("patient_id")
@click.argument("kept")
@click.argument("merged")
@click.option("--prefer", multiple=True, metavar="DATE=kept|merged",
              help="For a date both lesions have a visit: whose observation stays.")
@click.option("--reason", required=True, help="Why (kept in the audit history).")
@reports_errors
def lesion_merge_cmd(patient_id: str, kept: str, merged: str, prefer: tuple[str, ...],
                     reason: str) -> None:
    """Fold lesion MERGED into lesion KEPT (both of PATIENT_ID)."""
    choices = dict(item.partition("=")[::2] for item in prefer)
    with session() as s:
        kept_id, merged_id = _lesion_id(s, patient_id, kept), _lesion_id(s, patient_id, merged)
        merge_lesions(s, kept_id, merged_id, prefer=parse_prefer(choices), actor=CLI_ACTOR,
                      reason=reason)
    queue_assessments([kept_id])
    click.echo(f"lesion {merged} merged into {kept}")


@lesion_group.command("split")
@click.argument("patient_id")
@click.argument("lesion")
@click.option("--date", "dates", multiple=True, required=True, metavar="YYYY-MM-DD",
              help="An observation to move (its date); repeat for several.")
@click.option("--new-id", required=True, help="Id of the new lesion.")
@click.option("--reason", required=True, help="Why (kept in the audit history).")
@reports_errors
def lesion_split_cmd(patient_id: str, lesion: str, dates: tuple[str, ...], new_id: str,
                     reason: str) -> None:
    """Move the observations of LESION on the given dates to a new lesion."""
    days = [parse_as_of(d, "--date") for d in dates]
    with session() as s:
        lesion_id = _lesion_id(s, patient_id, lesion)
        ids = list(s.scalars(select(Observation.id).where(Observation.lesion_id == lesion_id,
                                                          Observation.date.in_(days))))
        missing = sorted(set(days) - set(s.scalars(
            select(Observation.date).where(Observation.id.in_(ids)))))
        if missing:
            fail([Problem("--date", f"lesion {lesion} has no observation on "
                          + ", ".join(map(str, missing)))])
        new = split_lesion(s, lesion_id, ids, new_external_id=new_id, actor=CLI_ACTOR,
                           reason=reason)
        new_row = new.id
    queue_assessments([lesion_id, new_row])
    click.echo(f"{len(ids)} observation(s) moved from {lesion} to the new lesion {new_id}")


# The interoperability commands (DICOM SR, CSV, FHIR) live in their own module.
from tracker.interop.commands import COMMANDS  # noqa: E402

for _command in COMMANDS:
    main.add_command(_command)
