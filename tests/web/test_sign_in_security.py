"""Server-side revocation of sessions (and the audit of sign-outs), CSRF rotation, and password
strength on every page that sets a password. Throttling: test_sign_in_throttling.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.web.conftest import CSRF_RE, Client
from tests.web.seed import PASSWORD
from tracker.cli.main import main
from tracker.models import AuditEvent, User
from tracker.services.users import set_user_active

Login = Callable[[str | None], Client]
WEAK = ["password12", "1234567890", " " * 10, "qwertyuiop", "clinician1234"]


def sign_in(client: Any, username: str, password: str, address: str = "127.0.0.1") -> Any:
    token = CSRF_RE.search(client.get("/login").text).group(1)
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def test_a_cookie_copied_before_sign_out_is_refused_after(app: Any, login: Login,
                                                          session: Session) -> None:
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
    [out] = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.logout")).all()
    assert (out.actor, out.after) == ("admin", {"address": "127.0.0.1"})


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
