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
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from tracker.audit import audit
from tracker.clock import now
from tracker.config import from_env
from tracker.errors import Conflict, InvalidInput, NotFound, Problem
from tracker.models import ApiToken, User
from tracker.vocabulary import Role

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 256
# zxcvbn's scale: 3 = "safely unguessable", resists an offline attack on a slow hash.
MIN_PASSWORD_SCORE = 3
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


class Permission(StrEnum):
    """What a person may do; `PERMISSIONS` says from which role on (the README's table)."""

    READ = "read"  # every page and every GET of the API
    ACT_ON_ALERTS = "act_on_alerts"  # acknowledge, snooze
    RECORD = "record"  # record an observation or a treatment
    CORRECT_OWN = "correct_own"  # correct or remove an observation or treatment one recorded
    CORRECT_ANY = "correct_any"  # ... anyone's (imports included)
    IDENTITY = "identity"  # merge, split, correct a lesion's site
    IMPORT = "import"  # timeline, DICOM SR and spreadsheet files
    MANAGE_USERS = "manage_users"  # users, passwords, API tokens
    OPERATE = "operate"  # the state of the links to other systems (the PACS page)


# Roles nest (each has what the one before has): the least role for each permission. The one
# place access is decided; pages, the API and templates all ask `Principal.may`.
ROLE_RANK: dict[Role, int] = {Role.CLINICIAN: 0, Role.RADIOLOGIST: 1, Role.ADMIN: 2}
PERMISSIONS: dict[Permission, Role] = {
    Permission.READ: Role.CLINICIAN,
    Permission.ACT_ON_ALERTS: Role.CLINICIAN,
    Permission.RECORD: Role.CLINICIAN,
    Permission.CORRECT_OWN: Role.CLINICIAN,
    Permission.CORRECT_ANY: Role.RADIOLOGIST,
    Permission.IDENTITY: Role.RADIOLOGIST,
    Permission.IMPORT: Role.RADIOLOGIST,
    Permission.MANAGE_USERS: Role.ADMIN,
    Permission.OPERATE: Role.ADMIN,
}


def least_role(what: Role | Permission) -> Role:
    return PERMISSIONS[what] if isinstance(what, Permission) else what


@dataclass(frozen=True)
class Principal:
    """Who is acting, detached from any session: what the web layer keeps per request."""

    id: int
    username: str
    role: Role
    active: bool
    session_generation: int = 0

    def may(self, what: Role | Permission) -> bool:
        """At least this role, or holding this permission."""
        return ROLE_RANK[self.role] >= ROLE_RANK[least_role(what)]

    def may_correct(self, recorded_by: str | None) -> bool:
        """Anyone's entry from CORRECT_ANY on; one's own (recorded by this user, signed in or
        through one of their API tokens) with CORRECT_OWN."""
        if self.may(Permission.CORRECT_ANY):
            return True
        own = recorded_by is not None and recorded_by.removesuffix(API_TOKEN_SUFFIX) == \
            self.username
        return own and self.may(Permission.CORRECT_OWN)


# How the audit names a person acting through an API token (web/auth.py `actor`).
API_TOKEN_SUFFIX = " (api token)"


def principal(user: User) -> Principal:
    return Principal(user.id, user.username, Role(user.role), user.active,
                     user.session_generation)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_problems(password: str, username: str, *, field: str = "password") -> list[Problem]:
    """Why a new password is refused (too short, too long, or easy to guess by zxcvbn's
    estimate, with its advice), or nothing. The one check for every way a password is set."""
    if len(password) < MIN_PASSWORD_CHARS:
        return [Problem(field, f"needs at least {MIN_PASSWORD_CHARS} characters")]
    if len(password) > MAX_PASSWORD_CHARS:
        return [Problem(field, f"has {len(password)} characters; at most {MAX_PASSWORD_CHARS}")]
    # zxcvbn reads the first 72 characters; longer ones only add strength.
    estimate = zxcvbn(password, user_inputs=[username, "calcitrack"])
    if estimate["score"] >= MIN_PASSWORD_SCORE:
        return []
    feedback = estimate["feedback"]
    why = feedback["warning"] or "it is easy to guess"
    advice = " ".join(feedback["suggestions"])
    return [Problem(field, f"is too easy to guess: {why.rstrip('.')}. {advice}".strip())]


def _check_new_user(username: str, password: str, role: str) -> list[Problem]:
    problems = []
    if not USERNAME_RE.fullmatch(username):
        problems.append(Problem("username", "may use only A-Z a-z 0-9 . _ - "
                                            f"(1-{MAX_USERNAME_CHARS} characters)"))
    problems.extend(password_problems(password, username))
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


def _user(session: Session, username: str, *, lock: bool = False) -> User:
    query = select(User).where(User.username == username)
    user = session.scalar(query.with_for_update() if lock else query)
    if user is None:
        raise NotFound(f"user {username} does not exist")
    return user


def set_user_active(session: Session, username: str, active: bool, *, actor: str) -> Principal:
    """Deactivate (or reactivate) a user: sign-in, their sessions and their tokens stop
    working at once."""
    user = _user(session, username, lock=True)
    if user.username == actor and not active:
        raise Conflict("you cannot deactivate yourself")
    if user.active != active:
        audit(session, actor, "user.activate" if active else "user.deactivate", "user",
              user.id, {"active": user.active}, {"active": active})
        user.active = active
        user.session_generation += 1
    session.commit()
    return principal(user)


def set_password(session: Session, username: str, password: str, *, actor: str,
                 field: str = "password") -> Principal:
    """Give a user a new password (audited, never the password itself) and revoke every
    session they have; the caller signs the current one in again if it is theirs."""
    problems = password_problems(password, username, field=field)
    if problems:
        raise InvalidInput(problems)
    user = _user(session, username, lock=True)
    user.password_hash = _hasher().hash(password)
    user.session_generation += 1
    audit(session, actor, "user.password", "user", user.id)
    session.commit()
    return principal(user)


def change_own_password(session: Session, username: str, current: str, new: str) -> Principal:
    """A signed-in user changes their password: the current one must be right."""
    if authenticate(session, username, current) is None:
        raise InvalidInput([Problem("current_password", "is not your current password")])
    return set_password(session, username, new, actor=username, field="new_password")


def sign_out(session: Session, user_id: int, *, address: str | None = None) -> None:
    """Revoke the user's sessions server-side: a copy of the cookie no longer signs anyone in.
    The generation is per user, so this signs them out on every device. Audited."""
    session.execute(update(User).where(User.id == user_id)
                    .values(session_generation=User.session_generation + 1))
    username = session.scalar(select(User.username).where(User.id == user_id))
    if username is not None:
        audit(session, username, "user.logout", "user", user_id, None, {"address": address})
    session.commit()


def record_failed_sign_in(session: Session, username: str, address: str | None) -> None:
    """Audit a refused sign-in: the name tried and where from, never the password."""
    tried = username[:64]
    user_id = session.scalar(select(User.id).where(User.username == tried))
    audit(session, tried or "(blank)", "user.login_failed", "user", user_id, None,
          {"username": tried, "address": address, "known_user": user_id is not None})
    session.commit()


def record_throttled_sign_in(session: Session, username: str, address: str | None,
                             limit: str, until: datetime) -> None:
    """Audit sign-ins refused by a throttling limit: which one, for whom, from where, until
    when (never the password; the caller audits the first refusal of each limit window)."""
    tried = username[:64]
    user_id = session.scalar(select(User.id).where(User.username == tried))
    audit(session, tried or "(blank)", "user.login_throttled", "user", user_id, None,
          {"username": tried, "address": address, "limit": limit,
           "until": until.isoformat(timespec="seconds")})
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


def user_by_id(session: Session, user_id: int, generation: int) -> Principal | None:
    """The active user whose sessions of this generation have not been revoked."""
    user = session.get(User, user_id)
    if user is None or not user.active or user.session_generation != generation:
        return None
    return principal(user)


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
