"""The edge where the error hierarchy becomes HTTP: 400/404/409 as a page or as JSON.

Under `/api/` every error is `{"errors": [{"path": ..., "message": ...}]}`; elsewhere a page.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, render_template, request
from flask_login import AnonymousUserMixin
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, InternalServerError

from tracker.db import UNAVAILABLE, unavailable_reason
from tracker.errors import (
    CalcitrackError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Problem,
    ServiceUnavailable,
)
from web.db import close_session

log = logging.getLogger(__name__)
ResponseT = Any


def status_of(exc: CalcitrackError) -> int:
    if isinstance(exc, InvalidInput):
        return 400
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, ServiceUnavailable):
        return 503
    return 400


def problems_of(exc: CalcitrackError) -> list[Problem]:
    return exc.problems if isinstance(exc, InvalidInput) else [Problem("", str(exc))]


def wants_json() -> bool:
    return request.path.startswith("/api/")


def errors_json(problems: list[Problem], total: int | None = None) -> dict[str, Any]:
    """The API's error shape; `total` only when more problems were found than listed."""
    doc: dict[str, Any] = {"errors": [{"path": p.path, "message": p.message} for p in problems]}
    if total is not None and total > len(problems):
        doc["total"] = total
    return doc


def _render(status: int, title: str, problems: list[Problem],
            capped: InvalidInput | None = None) -> ResponseT:
    if wants_json():
        return errors_json(problems, capped.total if capped else None), status
    return render_template("error.html", status=status, title=title, problems=problems,
                           note=capped.omitted_note if capped else None), status


RETRY_AFTER_SECONDS = 30


def _without_database() -> None:
    """Error pages never read the database (it may be what failed): drop the request's
    session and render as nobody signed in, so the page needs no user or alert counts."""
    try:
        close_session()
    except Exception:  # a dead connection may fail to roll back: it is discarded anyway
        log.debug("closing the failed session", exc_info=True)
    g._login_user = AnonymousUserMixin()


def init_app(app: Flask) -> None:
    @app.errorhandler(CalcitrackError)
    def _domain(exc: CalcitrackError) -> ResponseT:
        status = status_of(exc)
        titles = {400: "Invalid input", 403: "Not allowed", 404: "Not found", 409: "Conflict"}
        capped = exc if isinstance(exc, InvalidInput) else None
        return _render(status, titles.get(status, "Error"), problems_of(exc), capped)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> ResponseT:
        return _render(400, "Form expired", [Problem("", "the form's security token is missing or "
                                                      "expired; reload the page and try again")])

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        if exc.code is None or exc.code < 400:
            return exc
        message = exc.description or exc.name
        if exc.code == 401:
            message = "sign in, or send Authorization: Bearer <token>"
        if exc.code == 403:
            message = "your role does not allow this"
        body, status = _render(exc.code, exc.name, [Problem("", message)])
        # The exception's own headers (405: Allow; 429: Retry-After), not its content type.
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        if exc.code == 401 and wants_json():
            headers.append(("WWW-Authenticate", 'Bearer realm="calcitrack"'))
        return body, status, headers

    @app.errorhandler(InternalServerError)
    def _internal(exc: InternalServerError) -> ResponseT:
        log.exception("unhandled error", exc_info=exc.original_exception)
        _without_database()
        return _render(500, "Something went wrong",
                       [Problem("", "the server could not complete this request; reload the "
                                    "page to see what was saved")])

    def _database_unavailable(exc: Exception) -> ResponseT:
        """The database is down or dropped the connection: our own 503 page (or JSON),
        nothing was changed, try again; the log gets the driver's one line, no parameters."""
        log.error("database unavailable: %s", unavailable_reason(exc))
        _without_database()
        body, status = _render(503, "Service unavailable", [Problem(
            "", "the database cannot be reached just now; nothing was changed. Try again in a "
                "minute; if it lasts, tell the administrator.")])
        return body, status, {"Retry-After": str(RETRY_AFTER_SECONDS)}

    for cls in UNAVAILABLE:
        app.register_error_handler(cls, _database_unavailable)

    @app.errorhandler(StaleDataError)
    def _changed_meanwhile(_exc: StaleDataError) -> ResponseT:
        """A row changed between reading and writing it (a writer without the row lock):
        nothing was stored, and doing it again reads the new version."""
        _without_database()
        return _render(409, "Conflict", [Problem(
            "", "a record changed while this request ran; nothing was stored: try again")])
