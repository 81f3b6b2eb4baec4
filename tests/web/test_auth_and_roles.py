"""Sign-in, roles (allowed and forbidden for every route), CSRF, cookies, API tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.web.conftest import CSRF_RE, Client
from tests.web.seed import PASSWORD, seed_patient
from tracker.models import Alert, ApiToken, AuditEvent
from tracker.services.users import issue_token, set_user_active

Login = Callable[[str | None], Client]


def test_pages_redirect_to_sign_in_and_back(login: Login) -> None:
    anon = login(None)
    r = anon.get("/patients")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=")
    page = anon.get("/login?next=/patients")
    token = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
    r = anon.client.post("/login", data={"username": "clinician", "password": PASSWORD,
                                         "csrf_token": token, "next": "/patients"})
    assert r.status_code == 302 and r.headers["Location"] == "/patients"


def test_wrong_password_and_open_redirect(login: Login, session: Session) -> None:
    anon = login(None)
    token = CSRF_RE.search(anon.get("/login").text).group(1)  # type: ignore[union-attr]
    r = anon.client.post("/login", data={"username": "clinician", "password": "nope",
                                         "csrf_token": token})
    assert r.status_code == 401 and "wrong password" in r.text
    r = anon.client.post("/login", data={"username": "clinician", "password": PASSWORD,
                                         "csrf_token": token, "next": "//evil.example/x"})
    assert r.headers["Location"] == "/alerts"
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "user.login")) is not None


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil.example", "/\\evil.example"])
def test_next_that_a_browser_reads_as_another_host_is_refused(login: Login,
                                                               target: str) -> None:
    """Browsers drop tabs and newlines and read a backslash as a slash: `/<TAB>/evil` is
    `//evil`, another site. Signing in (or being signed in) must still land on our pages."""
    anon = login(None)
    token = CSRF_RE.search(anon.get("/login").text).group(1)  # type: ignore[union-attr]
    r = anon.client.post("/login", data={"username": "clinician", "password": PASSWORD,
                                         "csrf_token": token, "next": target})
    assert r.status_code == 302 and r.headers["Location"] == "/alerts"
    r = anon.client.get("/login", query_string={"next": target})
    assert r.status_code == 302 and r.headers["Location"] == "/alerts"


def test_deactivated_user_cannot_sign_in_and_is_signed_out(login: Login, session: Session) -> None:
    client = login("clinician")
    set_user_active(session, "clinician", False, actor="admin")
    assert client.get("/patients").status_code == 302
    with pytest.raises(AssertionError):
        login("clinician")


def test_session_cookie_flags(app: Any, login: Login) -> None:
    client = login("clinician")
    cookie = client.client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    from web import create_app

    prod = create_app({"DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": "x"})
    assert prod.config["SESSION_COOKIE_SECURE"] is True


def test_csrf_is_enforced_on_forms(login: Login, session: Session) -> None:
    ids = seed_patient(session)
    alert_id = session.scalar(select(Alert.id))
    client = login("clinician")
    r = client.client.post(f"/alerts/{alert_id}/acknowledge", data={"reason": "x"})
    assert r.status_code == 400 and "security token" in r.text
    assert session.scalar(select(Alert.state).where(Alert.id == alert_id)) == "open"
    r = client.client.post("/logout")
    assert r.status_code == 400
    anon = login(None)
    assert anon.client.post("/login", data={"username": "clinician",
                                            "password": PASSWORD}).status_code == 400
    radiologist = login("radiologist")
    r = radiologist.client.post(f"/lesions/{ids[0]}/observations/new",
                                data={"date": "2024-12-01", "modality": "XR", "visible": "no"})
    assert r.status_code == 400


def test_api_with_session_cookie_needs_csrf_header(login: Login, session: Session) -> None:
    seed_patient(session)
    alert_id = session.scalar(select(Alert.id))
    client = login("clinician")
    r = client.client.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={})
    assert r.status_code == 400 and r.json is not None
    assert r.json["errors"][0]["message"].startswith("the form's security token")
    r = client.api("POST", f"/api/v1/alerts/{alert_id}/acknowledge", json={})
    assert r.status_code == 200


def test_bearer_token(app: Any, session: Session) -> None:
    token = issue_token(session, "radiologist", "pacs", actor="admin")
    stored = session.scalar(select(ApiToken.token_hash))
    assert stored is not None and token not in stored  # hashed at rest
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/patients", headers=auth).status_code == 200
    r = client.get("/api/v1/patients", headers={"Authorization": "Bearer ct_wrong"})
    assert r.status_code == 401 and r.json["errors"][0]["path"] == ""
    assert "Bearer" in r.headers["WWW-Authenticate"]
    assert client.get("/api/v1/patients").status_code == 401
    # a token does not open the pages (people sign in)
    assert client.get("/patients", headers=auth).status_code == 302
    set_user_active(session, "radiologist", False, actor="admin")
    assert client.get("/api/v1/patients", headers=auth).status_code == 401


# --------------------------------------------------------------------------- role matrix

READ = ("clinician", "radiologist", "admin")
WRITE = ("radiologist", "admin")
ADMIN = ("admin",)
ROLES = ("clinician", "radiologist", "admin")


Route = tuple[str, str, tuple[str, ...]]


def _routes(lesion_id: int, observation_id: int, alert_id: int) -> list[Route]:
    return [
        ("GET", "/alerts", READ),
        ("GET", "/patients", READ),
        ("GET", "/patients/P-0001", READ),
        ("GET", "/patients/P-0001/timeline.png", READ),
        ("GET", f"/lesions/{lesion_id}", READ),
        ("GET", f"/lesions/{lesion_id}/chart.svg", READ),
        ("GET", f"/lesions/{lesion_id}/status.json", READ),
        ("GET", f"/lesions/{lesion_id}/compare", READ),
        ("GET", "/patients/P-0001/timepoints", READ),
        ("GET", "/patients/P-0001/report", READ),
        ("GET", "/cohort", READ),
        ("GET", "/cohort/km.csv", READ),
        ("POST", "/alerts/bulk", READ),
        ("POST", f"/alerts/{alert_id}/acknowledge", READ),
        ("GET", f"/lesions/{lesion_id}/observations/new", WRITE),
        ("POST", f"/lesions/{lesion_id}/observations/new", WRITE),
        ("GET", f"/observations/{observation_id}/edit", WRITE),
        ("POST", f"/observations/{observation_id}/edit", WRITE),
        ("POST", f"/observations/{observation_id}/delete", WRITE),
        ("GET", "/import", WRITE),
        ("POST", "/import", WRITE),
        ("GET", "/admin/users", ADMIN),
        ("POST", "/admin/users", ADMIN),
        ("POST", "/admin/users/clinician/tokens", ADMIN),
        ("GET", "/api/v1/patients", READ),
        ("GET", "/api/v1/patients/P-0001", READ),
        ("GET", f"/api/v1/lesions/{lesion_id}", READ),
        ("GET", f"/api/v1/lesions/{lesion_id}/assessment", READ),
        ("GET", "/api/v1/alerts", READ),
        ("GET", "/api/v1/timelines", READ),
        ("POST", f"/api/v1/alerts/{alert_id}/acknowledge", READ),
        ("GET", f"/api/v1/observations/{observation_id}", READ),
        ("POST", f"/api/v1/lesions/{lesion_id}/observations", WRITE),
        ("PUT", f"/api/v1/observations/{observation_id}", WRITE),
        ("DELETE", f"/api/v1/observations/{observation_id}", WRITE),
        ("POST", "/api/v1/timelines", WRITE),
    ]


def test_every_route_allows_and_forbids_by_role(login: Login, session: Session) -> None:
    """Allowed roles get past the access check (2xx/3xx, or a 400 for an empty body);
    others get 403; nobody signed in gets the sign-in page (pages) or 401 (API)."""
    from tracker.models import Observation

    ids = seed_patient(session)
    observation_id = session.scalar(select(Observation.id).where(Observation.lesion_id == ids[1]))
    alert_id = session.scalar(select(Alert.id))
    assert observation_id is not None and alert_id is not None
    clients = {role: login(role) for role in ROLES}
    anon = login(None)
    for method, url, allowed in _routes(ids[0], observation_id, alert_id):
        for role in ROLES:
            r = clients[role].api(method, url) if url.startswith("/api/") else (
                clients[role].post(url) if method == "POST" else clients[role].get(url)
            )
            if role in allowed:
                assert r.status_code != 403 and r.status_code < 500, (method, url, role)
            else:
                assert r.status_code == 403, (method, url, role, r.status_code)
        r = anon.client.open(url, method=method)
        expected = 401 if url.startswith("/api/") else (302 if method == "GET" else 400)
        assert r.status_code == expected, (method, url, "anonymous", r.status_code)
