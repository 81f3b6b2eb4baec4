"""Who is asking, and may they: flask-login sessions for people, bearer tokens for machines.

Who may do what is `tracker.services.users.PERMISSIONS` (roles nest: clinician, radiologist,
admin); every route names the permission it needs (`requires`), and a correction also asks who
recorded the entry (`require_correction`). The user object kept per request is a detached
`Principal`, never an ORM row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar, cast

from flask import Flask, Request, Response, abort, current_app, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from limits.errors import StorageError
from limits.storage import Storage
from redis.exceptions import RedisError

from tracker.queries.history import recorded_by
from tracker.queries.worklist import attention_counts
from tracker.services.users import (
    API_TOKEN_SUFFIX,
    Permission,
    Principal,
    least_role,
    record_throttled_sign_in,
    user_by_id,
    user_by_token,
)
from tracker.vocabulary import Role
from web.clock import today
from web.db import get_session

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

csrf = CSRFProtect()
login_manager = LoginManager()
# Sign-in throttling: storage is Redis when REDIS_URL is set (shared by every web process),
# else this process's memory (the embedded default runs one).
limiter = Limiter(get_remote_address, headers_enabled=True, key_prefix="calcitrack")

TOO_MANY = "too many failed sign-ins; wait before trying again"
KNOWN_PREFIX = "calcitrack/known-sign-in"


def _account() -> str:
    return request.form.get("username", "").strip().lower()[:64]


def _account_key() -> str:
    return "account:" + _account()


def _pair_key() -> str:
    return f"account:{_account()}@{get_remote_address()}"


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _known_key(account: str, address: str) -> str:
    return f"{KNOWN_PREFIX}/{account}@{address}"


def _storage() -> Storage:
    """The limiter's storage in use: Redis, or this process's memory while Redis cannot be
    reached (Flask-Limiter's fallback, RATELIMIT_IN_MEMORY_FALLBACK_ENABLED)."""
    return limiter.limiter.storage


def remember_sign_in(username: str) -> None:
    """This account signed in from this address: from here on it is one of the account's
    known addresses (for SIGN_IN_KNOWN_ADDRESS_DAYS), which neither the per-account ceiling
    nor the per-address limit can shut. Kept in the limiter's storage (Redis when set); if
    that cannot be written the sign-in still succeeds, the address just stays unknown."""
    key = _known_key(username.strip().lower()[:64], get_remote_address())
    days = int(current_app.config["SIGN_IN_KNOWN_ADDRESS_DAYS"])
    try:
        _storage().clear(key)  # a new sign-in starts the period again
        _storage().incr(key, days * 24 * 3600)
    except (RedisError, StorageError):
        log.warning("could not remember a sign-in address: the throttling storage is down")


def _known_address() -> bool:
    return bool(_storage().get(_known_key(_account(), get_remote_address())))


# (config key, whose failures it counts, exempt when, what the audit calls it). Only failures
# count (deduct_when). Past a limit, every attempt it covers answers 429 with Retry-After,
# right password or not. Several windows in one limit make the wait grow.
SIGN_IN_LIMITS: tuple[tuple[str, Callable[[], str], Callable[[], bool] | None, str], ...] = (
    ("SIGN_IN_LIMIT_PER_ACCOUNT_AND_ADDRESS", _pair_key, None, "this account from this address"),
    ("SIGN_IN_LIMIT_PER_ADDRESS", get_remote_address, _known_address, "this address"),
    ("SIGN_IN_LIMIT_PER_ACCOUNT", _account_key, _known_address,
     "this account from addresses it never signed in from"),
)


def throttle_sign_in(view: Callable[P, R]) -> Callable[P, R]:
    """Failed sign-ins count per account and address (a low limit: one address guessing one
    password), per address (one address trying many accounts), and per account over every
    address it never signed in from (a high ceiling: guesses spread over many addresses).
    An attacker exhausting his attempts therefore shuts only his own address: the owner signs
    in from another one, or from any known address even past the ceiling."""
    for config_key, key_func, exempt, scope_name in SIGN_IN_LIMITS:
        view = limiter.limit(_configured(config_key), key_func=key_func, methods=["POST"],
                             deduct_when=_failed, exempt_when=exempt,
                             error_message=_too_many, on_breach=_audit_breach(scope_name),
                             scope=config_key.lower())(view)
    return view


def _audit_breach(scope_name: str) -> Callable[[RequestLimit], None]:
    """Audit the first attempt each limit window refuses (one event per key and window, so
    an attacker hammering the form cannot turn every refusal into a database write)."""
    def audit_breach(breached: RequestLimit) -> None:
        reset = int(breached.reset_at)
        if _storage().incr(f"calcitrack/audited/{breached.key}/{reset}",
                           max(1, reset - int(time.time()))) != 1:
            return
        record_throttled_sign_in(
            get_session(), request.form.get("username", "").strip(), get_remote_address(),
            f"{breached.limit} for {scope_name}", datetime.fromtimestamp(reset, UTC))

    return audit_breach


def _longest_wait_seconds() -> float | None:
    """How long until every limit this request breached lets it through, if any did."""
    breached = [lim.reset_at for lim in limiter.current_limits if lim.breached]
    return max(1.0, max(breached) - time.time()) if breached else None


def _too_many() -> str:
    """The 429 message, with about how long to wait (what Retry-After says, in minutes)."""
    wait = _longest_wait_seconds()
    if wait is None:
        return TOO_MANY
    minutes = max(1, round(wait / 60))
    return f"{TOO_MANY} (about {minutes} minute{'s' if minutes != 1 else ''})"


def _configured(config_key: str) -> Callable[[], str]:
    """A limit read from the app's config at request time (tests and operators can tune it)."""
    return lambda: str(current_app.config[config_key])


@dataclass(frozen=True)
class WebUser:
    """flask-login's view of a Principal."""

    principal: Principal
    via_token: bool = False

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        """What the session cookie keeps: the user and the generation it was issued under,
        so raising the generation server-side revokes the cookie."""
        return f"{self.principal.id}:{self.principal.session_generation}"

    @property
    def username(self) -> str:
        return self.principal.username

    @property
    def role(self) -> Role:
        return self.principal.role

    def can(self, what: Role | Permission) -> bool:
        return self.principal.may(what)

    def may_correct(self, recorded_by: str | None) -> bool:
        return self.principal.may_correct(recorded_by)


def bearer_token(req: Request) -> str | None:
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _load_user(session_id: str) -> WebUser | None:
    user_id, _, generation = session_id.partition(":")
    if not (user_id.isascii() and user_id.isdigit() and generation.isascii()
            and generation.isdigit()):
        return None  # e.g. a cookie from before sessions carried their generation
    found = user_by_id(get_session(), int(user_id), int(generation))
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
    return u.username + (API_TOKEN_SUFFIX if u.via_token else "")


def requires(what: Role | Permission, *, entry: str | None = None
             ) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Signed in (else 401 / sign-in page) and holding the permission (at least the role; else
    403). `entry` ("observation" or "treatment", its id the route's `<entry>_id`): a correction,
    allowed only on the person's own entries without CORRECT_ANY (`require_correction`).
    Checked before the body is read, so a refused request learns nothing of the input."""
    role = least_role(what)

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            u = user()
            if u is None:
                if request.path.startswith("/api/"):
                    abort(401)
                return login_manager.unauthorized()  # type: ignore[no-any-return]
            if not u.can(what):
                abort(403)
            if entry is not None:
                require_correction(entry, int(kwargs[f"{entry}_id"]))  # type: ignore[call-overload]
            return fn(*args, **kwargs)

        wrapper.required_role = role  # type: ignore[attr-defined]
        return wrapper

    return decorate


def require_correction(target_type: str, target_id: int) -> None:
    """403 unless the signed-in person may correct this observation or treatment: anyone's
    (CORRECT_ANY), or their own (CORRECT_OWN, recorded by them). A missing entry passes, for
    the service to answer 404."""
    u = user()
    owner = recorded_by(get_session(), target_type, [target_id]).get(target_id)
    if u is None or not u.may_correct(owner):
        abort(403)


def editable(target_type: str, target_ids: list[int]) -> set[int]:
    """Which of these entries the signed-in person may correct (one statement at most)."""
    u = user()
    if u is None or not u.can(Permission.CORRECT_OWN):
        return set()
    if u.can(Permission.CORRECT_ANY):
        return set(target_ids)
    owners = recorded_by(get_session(), target_type, target_ids)
    return {i for i in target_ids if u.may_correct(owners.get(i))}


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see patient data."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    cast(Any, login_manager).user_loader(_load_user)
    cast(Any, login_manager).request_loader(_load_token_user)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)

    @app.after_request
    def _longest_wait(response: Response) -> Response:
        """A 429 says the longest wait of the limits breached (Flask-Limiter takes the larger
        of this and its own, which follows the shortest window). Runs before its headers."""
        wait = _longest_wait_seconds()
        if response.status_code == 429 and wait is not None:
            response.headers["Retry-After"] = str(int(wait))
        return response

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
        return {"me": me, "Role": Role, "Permission": Permission, "attention": attention}
