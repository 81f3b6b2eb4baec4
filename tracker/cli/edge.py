"""What every `tracker` command shares at the edge: the exit codes and the one mapping of errors
to them, the database session, reading input files, writing output, and queueing the
assessments of what a command changed. The command modules import this one; it imports none of
them (nor `tracker.cli.main`), so nothing circles back here.

The CLI calls the services directly and never builds the Flask app. Results go to stdout,
problems to stderr, one line each and never a traceback. Exit codes: 0 ok, 1 not found or
conflict, 2 invalid input (every problem printed with its path), 3 service unavailable (the
database cannot be reached or opened; nothing was done, try again).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Any, BinaryIO, ParamSpec, TypeVar

import click
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from tracker.config import Settings, from_env
from tracker.db import (
    UNAVAILABLE,
    missing_sqlite_file,
    safe_url,
    session_scope,
    unavailable_reason,
)
from tracker.errors import (
    CalcitrackError,
    InvalidInput,
    Problem,
    ServiceUnavailable,
    assessment_deferred,
)
from tracker.timeline.models import Timeline
from tracker.timeline.reader import load_timeline

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


def no_database_message(missing: str) -> str:
    """Where the command looked, why there, and how to point it at a database (a newcomer in
    another folder than the one `make run` used meets this first)."""
    if os.environ.get("DATABASE_URL"):
        why = "DATABASE_URL names it"
    elif os.environ.get("CALCITRACK_INSTANCE"):
        why = "the embedded database of CALCITRACK_INSTANCE"
    else:
        why = "CALCITRACK_INSTANCE is unset: the instance/ folder of the current folder"
    return (f"no database at {missing} ({why}). Point at yours with CALCITRACK_INSTANCE=FOLDER"
            " (the instance/ folder `make run` made in the project) or DATABASE_URL=URL (e.g."
            " postgresql://user@host/db), or run `tracker db upgrade` to create one there")


def settings() -> Settings:
    return from_env()


@contextmanager
def session() -> Iterator[Session]:
    url = settings().database_url
    missing = missing_sqlite_file(url)
    if missing is not None:
        raise ServiceUnavailable(no_database_message(missing))
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
