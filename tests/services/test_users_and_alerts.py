"""Users, tokens and alert actions: one audited transaction each, on both databases."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from argon2 import extract_parameters, profiles
from sqlalchemy import select
from sqlalchemy.orm import Session

from testkit.factories import make_lesion, obs
from tracker.errors import Conflict, InvalidInput, NotFound
from tracker.models import Alert, AuditEvent, User
from tracker.services import alerts, users

TODAY = date(2025, 1, 15)


def test_create_user_hashes_password_and_audits(session: Session) -> None:
    made = users.create_user(session, "dr.a", "long-enough-1", "radiologist", actor="admin")
    row = session.scalar(select(User).where(User.username == "dr.a"))
    assert row is not None and row.password_hash.startswith("$argon2")
    assert users.authenticate(session, "dr.a", "long-enough-1") == made
    assert users.authenticate(session, "dr.a", "wrong-password") is None
    assert users.authenticate(session, "nobody", "long-enough-1") is None
    with pytest.raises(Conflict):
        users.create_user(session, "dr.a", "long-enough-1", "radiologist", actor="admin")
    with pytest.raises(InvalidInput) as exc:
        users.create_user(session, "bad name", "short", "nurse", actor="admin")
    assert {p.path for p in exc.value.problems} == {"username", "password", "role"}
    assert session.scalar(select(AuditEvent.action)) == "user.create"


def test_production_hashes_use_the_rfc_9106_profile_and_all_hashes_verify(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suite hashes with the cheapest profile (tests/conftest.py); without the setting a
    new hash has the RFC 9106 parameters, and a hash made under one profile still verifies
    under the other (the parameters live in the hash)."""
    users.create_user(session, "cheap", "long-enough-1", "clinician", actor="admin")
    monkeypatch.delenv("PASSWORD_HASH_PROFILE")
    users.create_user(session, "real", "long-enough-2", "clinician", actor="admin")
    hashes = dict(session.execute(select(User.username, User.password_hash)).tuples().all())
    assert extract_parameters(hashes["real"]) == profiles.RFC_9106_LOW_MEMORY
    assert extract_parameters(hashes["cheap"]) == profiles.CHEAPEST
    assert users.authenticate(session, "cheap", "long-enough-1") is not None
    monkeypatch.setenv("PASSWORD_HASH_PROFILE", "CHEAPEST")
    assert users.authenticate(session, "real", "long-enough-2") is not None
    monkeypatch.setenv("PASSWORD_HASH_PROFILE", "fastest")
    with pytest.raises(ValueError, match="not an argon2 profile"):
        users.create_user(session, "x", "long-enough-3", "clinician", actor="admin")


def test_username_leaves_room_for_the_api_token_actor(session: Session) -> None:
    """What a token's owner does is recorded as "<name> (api token)" in 64-character audit
    and alert columns: a longer name would make every such action fail on PostgreSQL."""
    with pytest.raises(InvalidInput) as exc:
        users.create_user(session, "u" * 53, "long-enough-1", "clinician", actor="admin")
    assert exc.value.problems[0].path == "username"
    assert "1-52 characters" in exc.value.problems[0].message
    longest = "u" * 52
    users.create_user(session, longest, "long-enough-1", "clinician", actor="admin")
    lesion = make_lesion(session, observations=[obs("2024-06-01", 12)])
    session.add(Alert(lesion_id=lesion.id, kind="no_resolution", severity="warning",
                      rule="hadd.no_resolution", since=date(2024, 6, 1), reason="r"))
    session.commit()
    alert_id = session.scalar(select(Alert.id))
    assert alert_id is not None
    done = alerts.acknowledge_alert(session, alert_id, actor=f"{longest} (api token)")
    assert done.state_by == f"{longest} (api token)"


def test_tokens_resolve_until_revoked_or_deactivated(session: Session) -> None:
    users.create_user(session, "bot", "long-enough-1", "clinician", actor="admin")
    token = users.issue_token(session, "bot", "ris", actor="admin")
    assert users.user_by_token(session, token) is not None
    assert users.user_by_token(session, token + "x") is None
    users.set_user_active(session, "bot", False, actor="admin")
    assert users.user_by_token(session, token) is None
    assert users.authenticate(session, "bot", "long-enough-1") is None
    users.set_user_active(session, "bot", True, actor="admin")
    token_id = users.tokens_of(session)[0].id
    users.revoke_token(session, token_id, actor="admin")
    assert users.user_by_token(session, token) is None
    with pytest.raises(NotFound):
        users.issue_token(session, "ghost", "x", actor="admin")


def _alert(session: Session) -> int:
    lesion = make_lesion(session, observations=[obs("2024-01-10", 10)])
    alert = Alert(lesion_id=lesion.id, kind="no_resolution", severity="warning",
                  rule="hadd.no_resolution", since=date(2024, 12, 1), reason="unchanged")
    session.add(alert)
    session.commit()
    return alert.id


def test_acknowledge_and_snooze(session: Session) -> None:
    alert_id = _alert(session)
    alerts.acknowledge_alert(session, alert_id, actor="dr.b", reason="  seen  ")
    row = session.get(Alert, alert_id)
    assert row is not None and row.state == "acknowledged" and row.state_reason == "seen"
    with pytest.raises(InvalidInput) as exc:
        alerts.snooze_alert(session, alert_id, TODAY, actor="dr.b", reason="", today=TODAY)
    assert {p.path for p in exc.value.problems} == {"until", "reason"}
    alerts.snooze_alert(session, alert_id, TODAY + timedelta(days=7), actor="dr.b",
                        reason="await MR", today=TODAY)
    assert row.state == "snoozed" and row.snoozed_until == TODAY + timedelta(days=7)
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.target_type == "alert")))
    assert [e.action for e in events] == ["alert.acknowledge", "alert.snooze"]
    assert events[1].before is not None and events[1].before["state"] == "acknowledged"
    row.state = "cleared"
    session.commit()
    with pytest.raises(Conflict):
        alerts.acknowledge_alert(session, alert_id, actor="dr.b")
    with pytest.raises(NotFound):
        alerts.acknowledge_alert(session, 10**6, actor="dr.b")
