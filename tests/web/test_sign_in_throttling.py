"""Sign-in throttling: brute force is stopped, but an attacker cannot lock the owner out.

Failures count per account and address (5 in 5 minutes, 10 in an hour, 30 a day: the wait
grows), per address over every account, and per account over the addresses it never signed
in from (a high ceiling against guesses spread over many addresses). Throttled attempts and
sign-outs are audited; the counts are shared through Redis."""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.web.conftest import CSRF_RE
from tests.web.seed import PASSWORD
from tests.web.test_sign_in_security import sign_in
from tracker.db import session_factory
from tracker.models import AuditEvent, User
from tracker.services.users import create_user
from web import create_app

ATTACKER, OWNER, ELSEWHERE = "198.51.100.7", "192.0.2.10", "192.0.2.99"


class Clock:
    """time.time() moved forward by the test (the limits' windows read it)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = 0.0
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def events(session: Session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                .order_by(AuditEvent.id)))


def test_an_attacker_shuts_only_his_own_address(app: Any, session: Session) -> None:
    """Five wrong passwords for the clinician from the attacker's address: that address gets
    429 even with the right password; the clinician signs in from hers. Every failure and the
    throttling are audited, never a password."""
    for i in range(5):
        assert sign_in(app.test_client(), "clinician", f"wrong-guess-{i}",
                       ATTACKER).status_code == 401, i
    r = sign_in(app.test_client(), "clinician", PASSWORD, ATTACKER)
    assert r.status_code == 429
    assert 0 < int(r.headers["Retry-After"]) <= 5 * 60
    assert "too many failed sign-ins; wait before trying again (about 5 minutes)" in r.text
    assert 'href="/login">Back to sign in' in r.text
    assert sign_in(app.test_client(), "CLINICIAN ", PASSWORD, ATTACKER).status_code == 429
    assert sign_in(app.test_client(), "clinician", PASSWORD, OWNER).status_code == 302
    assert sign_in(app.test_client(), "radiologist", PASSWORD, ATTACKER).status_code == 302

    failed = events(session, "user.login_failed")
    assert len(failed) == 5
    assert {(e.after or {})["address"] for e in failed} == {ATTACKER}
    [throttled] = events(session, "user.login_throttled")  # once per limit window
    clinician_id = session.scalar(select(User.id).where(User.username == "clinician"))
    assert (throttled.actor, throttled.target_id) == ("clinician", clinician_id)
    after = throttled.after or {}
    assert (after["address"], after["limit"]) == (
        ATTACKER, "5 per 5 minute for this account from this address")
    assert after["until"] > failed[-1].at.isoformat(timespec="seconds")
    everything = json.dumps([[e.actor, e.before, e.after] for e in
                             session.scalars(select(AuditEvent)).all()])
    assert "wrong-guess" not in everything and PASSWORD not in everything


def test_the_wait_grows_with_the_failures(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    for _ in range(5):
        assert sign_in(app.test_client(), "clinician", "wrong-guess", ATTACKER).status_code == 401
    first = sign_in(app.test_client(), "clinician", "wrong-guess", ATTACKER)
    assert first.status_code == 429 and int(first.headers["Retry-After"]) <= 5 * 60
    clock.advance(5 * 60 + 1)
    for _ in range(5):
        assert sign_in(app.test_client(), "clinician", "wrong-guess", ATTACKER).status_code == 401
    second = sign_in(app.test_client(), "clinician", PASSWORD, ATTACKER)
    assert second.status_code == 429 and int(second.headers["Retry-After"]) > 5 * 60
    minutes = re.search(r"wait before trying again \(about (\d+) minutes\)", second.text)
    assert minutes is not None and 5 < int(minutes.group(1)) <= 60  # up to the hour's end


def test_a_distributed_attack_hits_the_account_ceiling_but_not_known_addresses(
        app: Any, session: Session) -> None:
    app.config["SIGN_IN_LIMIT_PER_ACCOUNT"] = "20 per hour"
    assert sign_in(app.test_client(), "clinician", PASSWORD, OWNER).status_code == 302
    for n in range(10):  # two guesses from each of ten addresses: under every per-address limit
        for _ in range(2):
            assert sign_in(app.test_client(), "clinician", "wrong-guess",
                           f"203.0.113.{n}").status_code == 401
    assert sign_in(app.test_client(), "clinician", "wrong-guess",
                   "203.0.113.200").status_code == 429  # the ceiling, from a new address
    assert sign_in(app.test_client(), "clinician", PASSWORD, ELSEWHERE).status_code == 429
    assert sign_in(app.test_client(), "clinician", PASSWORD, OWNER).status_code == 302
    assert sign_in(app.test_client(), "radiologist", PASSWORD, ELSEWHERE).status_code == 302
    limits = {(e.after or {})["limit"] for e in events(session, "user.login_throttled")}
    assert limits == {"20 per 1 hour for this account from addresses it never signed in from"}


def test_failed_sign_ins_are_throttled_per_address(app: Any) -> None:
    """Guessing across many accounts from one address is stopped too; other addresses are not,
    nor an account that has signed in from that address before."""
    app.config["SIGN_IN_LIMIT_PER_ADDRESS"] = "5 per 15 minutes"
    assert sign_in(app.test_client(), "admin", PASSWORD, "10.0.0.9").status_code == 302
    for i in range(5):
        assert sign_in(app.test_client(), f"someone-{i}", "wrong-guess",
                       "10.0.0.9").status_code == 401
    r = sign_in(app.test_client(), "radiologist", PASSWORD, "10.0.0.9")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert sign_in(app.test_client(), "radiologist", PASSWORD, "10.0.0.10").status_code == 302
    assert sign_in(app.test_client(), "admin", PASSWORD, "10.0.0.9").status_code == 302


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
    """With REDIS_URL set the counts and known addresses live in Redis, so every web process
    sees them: failures spread over two app instances add up, and a sign-in through one makes
    the address known to the other. (A fresh account and addresses: Redis is shared.)"""
    monkeypatch.setenv("REDIS_URL", redis_url)
    config = {"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
              "SESSION_COOKIE_SECURE": False,
              "SIGN_IN_LIMIT_PER_ACCOUNT_AND_ADDRESS": "4 per 15 minutes",
              "SIGN_IN_LIMIT_PER_ACCOUNT": "6 per hour"}
    first, second = create_app(config), create_app(config)
    assert first.config["RATELIMIT_STORAGE_URI"] == redis_url
    name = f"u{uuid.uuid4().hex[:12]}"
    attacker, owner = (f"10.{random.randrange(256)}.{random.randrange(256)}.{n}"
                       for n in (1, 2))
    with session_factory(database_url)() as s:
        create_user(s, name, PASSWORD, "clinician", actor="test")
    assert sign_in(first.test_client(), name, PASSWORD, owner).status_code == 302
    for app in (first, second):
        for _ in range(2):
            assert sign_in(app.test_client(), name, "wrong-guess", attacker).status_code == 401
    assert sign_in(first.test_client(), name, PASSWORD, attacker).status_code == 429
    assert sign_in(second.test_client(), name, PASSWORD, attacker).status_code == 429
    assert sign_in(second.test_client(), name, PASSWORD, owner).status_code == 302


def test_with_redis_down_sign_in_works_and_is_still_throttled(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis unreachable: the counts move to this process's memory until it is back; nobody
    is refused a sign-in for it, and guessing is still stopped."""
    from web.auth import limiter

    monkeypatch.setattr(limiter, "_storage_dead", False)  # restored for the next app
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    down = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                       "SESSION_COOKIE_SECURE": False})
    with session_factory(database_url)() as s:
        create_user(s, "clinician", PASSWORD, "clinician", actor="test")
    assert sign_in(down.test_client(), "clinician", PASSWORD, OWNER).status_code == 302
    for _ in range(5):
        assert sign_in(down.test_client(), "clinician", "wrong-guess",
                       ATTACKER).status_code == 401
    assert sign_in(down.test_client(), "clinician", PASSWORD, ATTACKER).status_code == 429
    assert sign_in(down.test_client(), "clinician", PASSWORD, OWNER).status_code == 302
