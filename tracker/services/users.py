"""Users and API tokens: creating them, checking passwords, resolving bearer tokens.

One function = one transaction, audited in it. Passwords are hashed with argon2; API tokens are
shown once and stored only as a sha256 digest (a token is 256 random bits, so a fast hash is
enough: there is nothing to brute-force).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.audit import audit
from tracker.clock import now
from tracker.config import from_env
from tracker.errors import Conflict, InvalidInput, NotFound, Problem
from tracker.models import ApiToken, User
from tracker.vocabulary import Role

MIN_PASSWORD_CHARS = 10
TOKEN_PREFIX = "ct_"
# Audit actors and alert `state_by` hold 64 characters, and a request made with an API token
# is recorded as "<username> (api token)" (12 more): so a username has at most 52.
MAX_USERNAME_CHARS = 52
USERNAME_RE = re.compile(rf"^[A-Za-z0-9._-]{{1,{MAX_USERNAME_CHARS}}}$")


@lru_cache(maxsize=4)
def _hasher_for(profile: str) -> PasswordHasher:
    params = getattr(profiles, profile.upper(), None)
    if not isinstance(params, Parameters):
        raise ValueError(f"PASSWORD_HASH_PROFILE: {profile!r} is not an argon2 profile")
    return PasswordHasher.from_parameters(params)


def _hasher() -> PasswordHasher:
    """The hasher of the configured profile (PASSWORD_HASH_PROFILE), built on first use."""
    return _hasher_for(from_env().password_hash_profile)


@lru_cache(maxsize=4)
def _dummy_hash(profile: str) -> str:
    """Verifying an unknown user against a real hash keeps the timing of "no such user" and
    "wrong password" alike. Computed on the first login, not at import (every `tracker`
    command imports this module)."""
    return _hasher_for(profile).hash("calcitrack-timing-equaliser")


@dataclass(frozen=True)
class Principal:
    """Who is acting, detached from any session: what the web layer keeps per request."""

    id: int
    username: str
    role: Role
    active: bool


def principal(user: User) -> Principal:
    return Principal(user.id, user.username, Role(user.role), user.active)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_new_user(username: str, password: str, role: str) -> list[Problem]:
    problems = []
    if not USERNAME_RE.fullmatch(username):
        problems.append(Problem("username", "may use only A-Z a-z 0-9 . _ - "
                                            f"(1-{MAX_USERNAME_CHARS} characters)"))
    if len(password) < MIN_PASSWORD_CHARS:
        problems.append(
            Problem("password", f"needs at least {MIN_PASSWORD_CHARS} characters")
        )
    if role not in {r.value for r in Role}:
        allowed = ", ".join(r.value for r in Role)
        problems.append(Problem("role", f"{role!r} is not a role (one of: {allowed})"))
    return problems


def create_user(
    session: Session, username: str, password: str, role: str, *, actor: str
) -> Principal:
    """Add a user; refuses a taken username (409) and weak input (400), audited."""
    problems = _check_new_user(username, password, role)
    if problems:
        raise InvalidInput(problems)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username} already exists")
    user = User(username=username, password_hash=_hasher().hash(password), role=role, active=True)
    session.add(user)
    session.flush()
    audit(session, actor, "user.create", "user", user.id, None,
          {"username": username, "role": role})
    session.commit()
    return principal(user)


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"user {username} does not exist")
    return user


def set_user_active(session: Session, username: str, active: bool, *, actor: str) -> Principal:
    """Deactivate (or reactivate) a user: sign-in and their tokens stop working at once."""
    user = _user(session, username)
    if user.username == actor and not active:
        raise Conflict("you cannot deactivate yourself")
    if user.active != active:
        audit(session, actor, "user.activate" if active else "user.deactivate", "user",
              user.id, {"active": user.active}, {"active": active})
        user.active = active
    session.commit()
    return principal(user)


def set_password(session: Session, username: str, password: str, *, actor: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput(
            [Problem("password", f"needs at least {MIN_PASSWORD_CHARS} characters")]
        )
    user = _user(session, username)
    user.password_hash = _hasher().hash(password)
    audit(session, actor, "user.password", "user", user.id)
    session.commit()


def issue_token(session: Session, username: str, name: str, *, actor: str) -> str:
    """Create an API token for a user; returns the token, which is never shown again."""
    name = name.strip()
    if not 1 <= len(name) <= 64:
        raise InvalidInput([Problem("name", "needs 1-64 characters")])
    user = _user(session, username)
    if not user.active:
        raise Conflict(f"user {username} is deactivated")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=hash_token(token))
    session.add(row)
    session.flush()
    audit(session, actor, "token.issue", "api_token", row.id, None,
          {"user": username, "name": name})
    session.commit()
    return token


def revoke_token(session: Session, token_id: int, *, actor: str) -> None:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"token {token_id} does not exist")
    if not row.revoked:
        row.revoked = True
        audit(session, actor, "token.revoke", "api_token", row.id, {"revoked": False},
              {"revoked": True})
    session.commit()


# --------------------------------------------------------------------------- reads


def authenticate(session: Session, username: str, password: str) -> Principal | None:
    """The active user with this password, or None (same answer for every failure)."""
    user = session.scalar(select(User).where(User.username == username))
    try:
        profile = from_env().password_hash_profile
        _hasher_for(profile).verify(user.password_hash if user else _dummy_hash(profile), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    return principal(user)


def user_by_id(session: Session, user_id: int) -> Principal | None:
    user = session.get(User, user_id)
    return principal(user) if user is not None and user.active else None


def user_by_token(session: Session, token: str) -> Principal | None:
    """The active owner of an unrevoked token, in one statement."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    user = session.scalar(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked.is_(False))
    )
    return principal(user) if user is not None and user.active else None


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def tokens_of(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at)))


def stamp_login(session: Session, username: str) -> None:
    """Audit a sign-in (who looked at patient data is part of the record)."""
    user = _user(session, username)
    audit(session, username, "user.login", "user", user.id, None, {"at": now().isoformat()})
    session.commit()


def user_exists(session: Session, username: str) -> bool:
    return session.scalar(select(User.id).where(User.username == username)) is not None
