"""The web layer: pages for people, `/api/v1` for machines. Built by `create_app`, never at import.

Run with `flask --app web run` or `gunicorn 'web:create_app()'`. The web layer parses input,
calls one service, queues assessment after the commit, and renders; it never commits itself.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from apiflask import APIFlask
from flask import redirect, request, url_for
from werkzeug.exceptions import NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter
from werkzeug.wrappers import Response

from tracker.config import SECRET_KEY_FILE, default_instance, flag, from_env
from tracker.errors import InvalidInput, Problem
from web.schemas import Errors, inline_schema

DEV_SECRET = "dev-only-secret-change-me"
MAX_ROW_ID = 2**31 - 1  # ids are INTEGER columns: 32-bit on PostgreSQL
log = logging.getLogger(__name__)


def _count(name: str) -> int:
    value = os.environ.get(name, "").strip() or "0"
    if not (value.isascii() and value.isdigit()):
        raise RuntimeError(f"{name} must be a whole number, not {value!r}")
    return int(value)


class RowId(IntegerConverter):
    """`<int:...>` in a URL is a row id, in ASCII digits only (werkzeug's `\\d+` also matches
    `١` or `１`, which `int()` reads as 1). A number no row can have is a 404 whatever the
    method, not a database error (SQLite cannot bind it, PostgreSQL refuses it as an INTEGER)
    and not a 405 (which a failed converter would give when the path has other methods)."""

    regex = r"[0-9]+"

    def to_python(self, value: str) -> int:
        if len(value) > len(str(MAX_ROW_ID)) or int(value) > MAX_ROW_ID:
            raise NotFound()
        return int(value)


class MissingSecretKey(RuntimeError):
    """The app refuses to start: sessions and CSRF tokens would be signed with a public key."""


def _require_secret_key(app: APIFlask) -> None:
    """Outside debug and testing, a SECRET_KEY of the operator's or no start at all; the
    debug server and the tests may use the development key."""
    key = app.config.get("SECRET_KEY")
    if key and key != DEV_SECRET:
        return
    if app.debug or app.testing:
        app.config["SECRET_KEY"] = DEV_SECRET
        return
    raise MissingSecretKey(
        "SECRET_KEY is not set (or is the public development key): the web app will not"
        " start. Set the SECRET_KEY environment variable to a long random value, e.g."
        " `python -c 'import secrets; print(secrets.token_hex(32))'`, or write it to"
        f" {Path(app.instance_path) / SECRET_KEY_FILE} (`make run` does)")


def create_app(test_config: Mapping[str, Any] | None = None) -> APIFlask:
    """Build the app: environment settings, then instance config.py (or the test mapping)."""
    app = APIFlask(
        __name__,
        # the same instance folder as the CLI and the workers (CALCITRACK_INSTANCE or ./instance)
        instance_path=str(default_instance().resolve()),
        instance_relative_config=True,
        title="calcitrack API",
        version="1",
        spec_path="/api/v1/openapi.json",
        docs_path="/api/v1/docs",
        json_errors=False,  # web/errors.py answers JSON under /api and HTML elsewhere
    )
    settings = from_env(instance_path=app.instance_path)
    app.config.from_mapping(
        DATABASE_URL=settings.database_url,
        SECRET_KEY=settings.secret_key,
        MAX_TIMELINE_BYTES=settings.max_timeline_bytes,
        VIEWER_URL_TEMPLATE=settings.viewer_url_template,
        REPORT_INSTITUTION=settings.report_institution,
        MAX_CONTENT_LENGTH=settings.max_timeline_bytes + 64 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Secure unless explicitly turned off or running the debug server over plain HTTP.
        SESSION_COOKIE_SECURE=flag(os.environ.get("SESSION_COOKIE_SECURE"), not app.debug),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        # Failed sign-ins allowed per window (limits' notation; several windows make the wait
        # grow), then 429 + Retry-After (web/auth.py SIGN_IN_LIMITS says what each counts).
        SIGN_IN_LIMIT_PER_ACCOUNT_AND_ADDRESS="5 per 5 minutes; 10 per hour; 30 per day",
        SIGN_IN_LIMIT_PER_ADDRESS="50 per 15 minutes",
        SIGN_IN_LIMIT_PER_ACCOUNT="100 per hour",
        SIGN_IN_KNOWN_ADDRESS_DAYS=90,
        RATELIMIT_FAIL_ON_FIRST_BREACH=False,  # every limit checked: a 429 says the longest wait
        # Reverse proxies in front of the app that set X-Forwarded-For/-Proto (0: none, so a
        # client cannot forge its address; the per-address sign-in limit relies on it).
        TRUSTED_PROXIES=_count("TRUSTED_PROXIES"),
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        # Redis unreachable: throttle in this process's memory meanwhile, never refuse sign-in.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        CHART_CACHE_SIZE=256,
        # The OpenAPI docs page loads Swagger UI from this app, never from a CDN.
        SWAGGER_UI_CSS="/api/v1/docs/assets/swagger-ui.css",
        SWAGGER_UI_BUNDLE_JS="/api/v1/docs/assets/swagger-ui-bundle.js",
        SWAGGER_UI_STANDALONE_PRESET_JS="/api/v1/docs/assets/swagger-ui-standalone-preset.js",
        DOCS_FAVICON="/static/favicon.svg",
        # pydantic emits JSON Schema 2020-12, which is OpenAPI 3.1's schema dialect (Swagger UI
        # 5, from swagger-ui-bundle-v2, renders it).
        OPENAPI_VERSION="3.1.0",
        # Errors as web/errors.py answers them: 400 for invalid input, one shape for all.
        VALIDATION_ERROR_STATUS_CODE=400,
        VALIDATION_ERROR_DESCRIPTION="Invalid input: every problem with its JSON path",
        VALIDATION_ERROR_SCHEMA=inline_schema(Errors),
        HTTP_ERROR_SCHEMA=inline_schema(Errors),
        AUTH_ERROR_DESCRIPTION="Not signed in and no valid bearer token",
        TAGS=["patients", "lesions", "assessments", "observations", "alerts", "timelines",
              "inbox"],
        SECURITY_SCHEMES={
            "bearerAuth": {"type": "http", "scheme": "bearer",
                           "description": "A per-user API token (`tracker user token`)."}
        },
        DESCRIPTION=(
            "Longitudinal follow-up of soft-tissue calcifications. Validation errors answer 400 "
            'with `{"errors": [{"path": ..., "message": ...}]}`, the same paths as '
            "`tracker import`."
        ),
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)
    _require_secret_key(app)

    if int(app.config["TRUSTED_PROXIES"]) > 0:
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.url_map.converters["int"] = RowId
    from web import auth, charts, db, errors, filters, pacs
    from web.api import wiring
    from web.views import (
        admin,
        alerts,
        cohort,
        cohort_prognosis,  # noqa: F401  (its routes join the cohort blueprint)
        imports,
        inbox,
        lesion_identity,  # noqa: F401  (its routes join the lesion blueprint)
        lesions,
        patients,
    )
    from web.views import auth as auth_views
    from web.views import pacs as pacs_views

    db.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    charts.init_app(app)
    filters.init_app(app)
    pacs.init_app(app)
    for bp in (auth_views.bp, patients.bp, lesions.bp, alerts.bp, imports.bp, admin.bp,
               cohort.bp, inbox.bp, pacs_views.bp):
        app.register_blueprint(bp)
    wiring.init_app(app)

    @app.before_request
    def _refuse_nul_characters() -> None:
        """A NUL character cannot be stored, nor even looked up (PostgreSQL refuses it), so a
        URL, query or form field carrying one is a 400 naming the field. JSON bodies and files
        are checked by `tracker.timeline.reader.parse_json`."""
        fields = [("address", request.path), *request.args.items(multi=True),
                  *request.form.items(multi=True)]
        bad = dict.fromkeys(name for name, value in fields if "\x00" in value)
        if bad:
            raise InvalidInput([Problem(name, "contains a NUL character, which cannot be stored")
                                for name in bad])

    @app.get("/")
    @app.doc(hide=True)
    def index() -> Response:
        return redirect(url_for("alerts.worklist"))

    if not app.testing:
        # What start-up built (Flask, SQLAlchemy, pandas, lifelines, matplotlib: some 285,000
        # objects) lives as long as the process: kept out of the collector's full passes, which
        # otherwise walk it every few requests and were most of the slow pages' p95.
        gc.freeze()
    return app
