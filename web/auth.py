"""Who is asking, and may they: flask-login sessions for people, bearer tokens for machines.

Roles nest: a clinician reads and acknowledges or snoozes alerts; a radiologist also records,
edits and imports observations; an admin also manages users. The user object kept per request is
a detached `Principal`, never an ORM row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, ParamSpec, TypeVar, cast

from flask import Flask, Request, Response, abort, request
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from tracker.queries import attention_counts
from tracker.services.users import Principal, user_by_id, user_by_token
from tracker.vocabulary import Role
from web.clock import today
from web.db import get_session

P = ParamSpec("P")
R = TypeVar("R")

ROLE_RANK = {Role.CLINICIAN: 0, Role.RADIOLOGIST: 1, Role.ADMIN: 2}

csrf = CSRFProtect()
login_manager = LoginManager()


@dataclass(frozen=True)
class WebUser:
    """flask-login's view of a Principal."""

    principal: Principal
    via_token: bool = False

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.principal.id)

    @property
    def username(self) -> str:
        return self.principal.username

    @property
    def role(self) -> Role:
        return self.principal.role

    def can(self, role: Role) -> bool:
        return ROLE_RANK[self.principal.role] >= ROLE_RANK[role]


def bearer_token(req: Request) -> str | None:
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _load_user(user_id: str) -> WebUser | None:
    try:
        found = user_by_id(get_session(), int(user_id))
    except ValueError:
        return None
    return WebUser(found) if found is not None else None


def _load_token_user(req: Request) -> WebUser | None:
    """A bearer token identifies a machine client (API only; pages need a signed-in person)."""
    token = bearer_token(req)
    if token is None or not req.path.startswith("/api/"):
        return None
    found = user_by_token(get_session(), token)
    return WebUser(found, via_token=True) if found is not None else None


def user() -> WebUser | None:
    u = current_user._get_current_object()
    return u if isinstance(u, WebUser) else None


def actor() -> str:
    """The name written to audit events."""
    u = user()
    assert u is not None, "actor() needs an authenticated request"
    return u.username + (" (api token)" if u.via_token else "")


def requires(role: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Signed in (else 401 / sign-in page) and at least `role` (else 403)."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            u = user()
            if u is None:
                if request.path.startswith("/api/"):
                    abort(401)
                return login_manager.unauthorized()  # type: ignore[no-any-return]
            if not u.can(role):
                abort(403)
            return fn(*args, **kwargs)

        wrapper.required_role = role  # type: ignore[attr-defined]
        return wrapper

    return decorate


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see patient data."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    cast(Any, login_manager).user_loader(_load_user)
    cast(Any, login_manager).request_loader(_load_token_user)
    login_manager.init_app(app)
    csrf.init_app(app)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        """Patient data: never stored by shared caches; no framing; scripts from here only."""
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        docs = request.path == "/api/v1/docs"  # Swagger UI's page starts it inline
        script = "'self' 'unsafe-inline'" if docs else "'self'"
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; script-src {script}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'; form-action 'self'",
        )
        return response

    @app.context_processor
    def _inject_user() -> dict[str, object]:
        me = user()
        attention = attention_counts(get_session(), today=today()) if me is not None else None
        return {"me": me, "Role": Role, "attention": attention}
