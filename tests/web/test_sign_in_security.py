"""Sign-in throttling and its audit, server-side revocation of sessions, CSRF rotation, and
password strength on every page that sets a password."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.web.conftest import CSRF_RE, Client
from tests.web.seed import PASSWORD
from tracker.cli.main import main
from tracker.db import session_factory
from tracker.models import AuditEvent, User
from tracker.services.users import create_user, set_user_active
from web import create_app

Login = Callable[[str | None], Client]
WEAK = ["password12", "1234567890", " " * 10, "qwertyuiop", "clinician1234"]


def sign_in(client: Any, username: str, password: str, address: str = "127.0.0.1") -> Any:
    token = CSRF_RE.search(client.get("/login").text).group(1)
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def test_failed_sign_ins_are_throttled_per_account_and_audited(app: Any, session: Session) -> None:
    """Ten wrong passwords for one account, then even the right one is refused with 429 and
    Retry-After; another account from the same address is unaffected. Every failure is in the
    audit, without the password."""
    client = app.test_client()
    for i in range(10):
        r = sign_in(client, "clinician", f"wrong-guess-{i}")
        assert r.status_code == 401, i
    r = sign_in(client, "clinician", PASSWORD)
    assert r.status_code == 429
    assert 0 < int(r.headers["Retry-After"]) <= 15 * 60
    assert "too many failed sign-ins; wait before trying again (about 15 minutes)" in r.text
    assert 'href="/login">Back to sign in' in r.text
    assert sign_in(client, "CLINICIAN ", PASSWORD).status_code == 429  # same account
    assert sign_in(app.test_client(), "radiologist", PASSWORD).status_code == 302
    failed = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "user.login_failed")).all()
    assert len(failed) == 10
    assert {e.after["username"] for e in failed} == {"clinician"}  # type: ignore[index]
    assert {e.after["address"] for e in failed} == {"127.0.0.1"}  # type: ignore[index]
    clinician_id = session.scalar(select(User.id).where(User.username == "clinician"))
    assert {e.target_id for e in failed} == {clinician_id}
    everything = json.dumps([[e.actor, e.before, e.after] for e in
                             session.scalars(select(AuditEvent)).all()])
    assert "wrong-guess" not in everything and PASSWORD not in everything


def test_failed_sign_ins_are_throttled_per_address(app: Any) -> None:
    """Guessing across many accounts from one address is stopped too; other addresses are not."""
    app.config["SIGN_IN_LIMIT_PER_ADDRESS"] = "5 per 15 minutes"
    client = app.test_client()
    for i in range(5):
        assert sign_in(client, f"someone-{i}", "wrong-guess", "10.0.0.9").status_code == 401
    r = sign_in(client, "radiologist", PASSWORD, "10.0.0.9")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert sign_in(app.test_client(), "radiologist", PASSWORD, "10.0.0.10").status_code == 302


@pytest.mark.parametrize("trusted", [0, 1])
def test_the_per_address_limit_reads_x_forwarded_for_only_behind_a_trusted_proxy(
    app: Any, trusted: int
) -> None:
    """Behind one proxy (TRUSTED_PROXIES=1) every client arrives from the proxy's address: the
    limit must count the forwarded one. Without a proxy the header is the client's to forge."""
    proxied = create_app({"TESTING": True, "DATABASE_URL": app.config["DATABASE_URL"],
                          "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False,
                          "TRUSTED_PROXIES": trusted,
                          "SIGN_IN_LIMIT_PER_ADDRESS": "3 per 15 minutes"})

    def attempt(password: str, client_address: str) -> int:
        client = proxied.test_client()
        token = CSRF_RE.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
        return client.post("/login", data={"username": "radiologist", "password": password,
                                           "csrf_token": token},
                           environ_base={"REMOTE_ADDR": "10.0.0.1"},  # the proxy
                           headers={"X-Forwarded-For": client_address}).status_code

    for i in range(3):
        assert attempt("wrong-guess", f"203.0.113.{5 if trusted else i}") == 401
    assert attempt(PASSWORD, "203.0.113.5") == 429
    assert attempt(PASSWORD, "203.0.113.6") == (302 if trusted else 429)


@pytest.mark.redis
def test_throttling_is_shared_through_redis(database_url: str, redis_url: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """With REDIS_URL set the counts live in Redis, so every web process sees them: failures
    spread over two app instances add up. (A fresh account and address: Redis is shared.)"""
    monkeypatch.setenv("REDIS_URL", redis_url)
    config = {"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
              "SESSION_COOKIE_SECURE": False, "SIGN_IN_LIMIT_PER_ACCOUNT": "4 per 15 minutes"}
    first, second = create_app(config), create_app(config)
    assert first.config["RATELIMIT_STORAGE_URI"] == redis_url
    name, address = f"u{uuid.uuid4().hex[:12]}", f"10.{random.randrange(256)}.0.1"
    with session_factory(database_url)() as s:
        create_user(s, name, PASSWORD, "clinician", actor="test")
    for app in (first, second):
        for _ in range(2):
            assert sign_in(app.test_client(), name, "wrong-guess", address).status_code == 401
    assert sign_in(first.test_client(), name, PASSWORD, address).status_code == 429
    assert sign_in(second.test_client(), name, PASSWORD, address).status_code == 429


def test_a_cookie_copied_before_sign_out_is_refused_after(app: Any, login: Login) -> None:
    admin = login("admin")
    copied = admin.client.get_cookie("session")
    assert copied is not None
    assert admin.get("/admin/users").status_code == 200
    assert admin.post("/logout").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", copied.value)
    r = thief.get("/admin/users")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert thief.get("/api/v1/patients").status_code == 401


def test_deactivation_and_password_changes_revoke_every_session(app: Any, login: Login,
                                                                session: Session) -> None:
    laptop, phone = login("clinician"), login("clinician")
    admin = login("admin")
    assert laptop.get("/patients").status_code == 200
    r = admin.post("/admin/users/clinician/password", data={"password": "Amber-Heron-Lantern"})
    assert r.status_code == 302
    for client in (laptop, phone):
        assert client.get("/patients").status_code == 302
    # a person changing their own password keeps this session and ends the others
    radiologist = login("radiologist")
    other = login("radiologist")
    r = radiologist.post("/account/password", data={"current_password": PASSWORD,
                                                    "new_password": "Quiet-Otter-Meadow-7"})
    assert r.status_code == 302, r.text
    assert radiologist.get("/patients").status_code == 200
    assert other.get("/patients").status_code == 302
    # deactivation ends the sessions too, and reactivation does not bring them back
    session_cookie = admin.client.get_cookie("session")
    assert session_cookie is not None
    second_admin = login("admin")
    set_user_active(session, "admin", False, actor="test")
    set_user_active(session, "admin", True, actor="test")
    assert second_admin.get("/admin/users").status_code == 302
    assert admin.get("/admin/users").status_code == 302


def test_csrf_token_is_rotated_at_sign_in(app: Any) -> None:
    """A token planted before sign-in (read from the sign-in page) is no good afterwards."""
    client = app.test_client()
    before = CSRF_RE.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
    r = client.post("/login", data={"username": "clinician", "password": PASSWORD,
                                    "csrf_token": before})
    assert r.status_code == 302
    after = CSRF_RE.search(client.get("/patients").text).group(1)  # type: ignore[union-attr]
    assert client.post("/logout", data={"csrf_token": before}).status_code == 400
    assert client.post("/logout", data={"csrf_token": after}).status_code == 302


def test_weak_passwords_are_refused_with_the_reason(app: Any, login: Login, session: Session,
                                                    database_url: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    admin = login("admin")
    for weak in WEAK:
        r = admin.post("/admin/users", data={"username": "newbie", "password": weak,
                                             "role": "clinician"})
        assert r.status_code == 400, weak
        assert "password" in r.text and ("too easy to guess" in r.text
                                         or "at least 10" in r.text), weak
        r = admin.post("/admin/users/clinician/password", data={"password": weak})
        assert r.status_code == 400 and "too easy to guess" in r.text, weak
        r = admin.post("/account/password", data={"current_password": PASSWORD,
                                                  "new_password": weak})
        assert r.status_code == 400 and "too easy to guess" in r.text, weak
    r = admin.post("/admin/users", data={"username": "newbie", "password": "password12",
                                         "role": "clinician"})
    assert "very common password" in r.text  # zxcvbn's own words say why
    assert session.scalar(select(User.id).where(User.username == "newbie")) is None
    r = admin.post("/account/password", data={"current_password": "not-mine-at-all",
                                              "new_password": "Quiet-Otter-Meadow-7"})
    assert r.status_code == 400 and "is not your current password" in r.text
    assert sign_in(app.test_client(), "admin", PASSWORD).status_code == 302  # unchanged

    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    for weak in WEAK:
        res = runner.invoke(main, ["user", "add", "cli-user", "--password", weak])
        assert res.exit_code == 2 and "password: " in res.stderr, (weak, res.output)
        res = runner.invoke(main, ["user", "password", "clinician", "--password", weak])
        assert res.exit_code == 2 and "too easy to guess" in res.stderr, (weak, res.output)
    res = runner.invoke(main, ["user", "add", "cli-user", "--password", "1234567890"])
    assert "top-100 common password" in res.stderr
    res = runner.invoke(main, ["user", "password", "clinician", "--password",
                               "Amber-Heron-Lantern"])
    assert res.exit_code == 0, res.output
