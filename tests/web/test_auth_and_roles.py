"""Sign-in, roles (allowed and forbidden for every route), CSRF, cookies, API tokens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.web.conftest import CSRF_RE, Client
from tests.web.seed import PASSWORD, seed_held_report, seed_key_image, seed_patient
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

PUBLIC, READ, WRITE, ADMIN = None, "clinician", "radiologist", "admin"
RANK = {"clinician": 0, "radiologist": 1, "admin": 2}
ROLES = ("clinician", "radiologist", "admin")

# Every route of the app: (method, rule) -> (URL to call, the least role allowed). The test
# fails when a route is added without a row here, so a new route cannot skip the check. A
# correction of an observation or treatment is WRITE here: the seeded entries are nobody's own
# (a clinician corrects only what they recorded: test_clinician_corrects_only_own_entries).
# {lesion} {observation} {alert} {token} {treatment} are filled in from the seeded data; the
# sign-out row runs last for each role (it ends the session).
MATRIX: dict[tuple[str, str], tuple[str, str | None]] = {
    ("GET", "/"): ("/", PUBLIC),
    ("GET", "/login"): ("/login", PUBLIC),
    ("POST", "/login"): ("/login", PUBLIC),
    ("GET", "/stages.css"): ("/stages.css", PUBLIC),
    ("GET", "/static/<path:filename>"): ("/static/favicon.svg", PUBLIC),
    ("GET", "/api/v1/openapi.json"): ("/api/v1/openapi.json", PUBLIC),
    ("GET", "/api/v1/docs"): ("/api/v1/docs", PUBLIC),
    ("GET", "/api/v1/docs/assets/<path:filename>"): ("/api/v1/docs/assets/swagger-ui.css",
                                                     PUBLIC),
    ("GET", "/docs/oauth2-redirect"): ("/docs/oauth2-redirect", PUBLIC),
    ("GET", "/account/password"): ("/account/password", READ),
    ("POST", "/account/password"): ("/account/password", READ),
    ("GET", "/alerts"): ("/alerts", READ),
    ("POST", "/alerts/<int:alert_id>/acknowledge"): ("/alerts/{alert}/acknowledge", READ),
    ("POST", "/alerts/<int:alert_id>/snooze"): ("/alerts/{alert}/snooze", READ),
    ("GET", "/patients"): ("/patients", READ),
    ("GET", "/patients/<external_id>"): ("/patients/P-0001", READ),
    ("GET", "/patients/<external_id>/timeline.<fmt>"): ("/patients/P-0001/timeline.png", READ),
    ("GET", "/lesions/<int:lesion_id>"): ("/lesions/{lesion}", READ),
    ("GET", "/lesions/<int:lesion_id>/chart.<fmt>"): ("/lesions/{lesion}/chart.svg", READ),
    ("GET", "/lesions/<int:lesion_id>/status.json"): ("/lesions/{lesion}/status.json", READ),
    ("GET", "/lesions/<int:lesion_id>/observations/new"):
        ("/lesions/{lesion}/observations/new", READ),
    ("POST", "/lesions/<int:lesion_id>/observations/new"):
        ("/lesions/{lesion}/observations/new", READ),
    ("GET", "/observations/<int:observation_id>/edit"): ("/observations/{observation}/edit",
                                                         WRITE),
    ("POST", "/observations/<int:observation_id>/edit"): ("/observations/{observation}/edit",
                                                          WRITE),
    ("POST", "/observations/<int:observation_id>/delete"):
        ("/observations/{observation}/delete", WRITE),
    ("GET", "/import"): ("/import", WRITE),
    ("POST", "/import"): ("/import", WRITE),
    ("GET", "/admin/users"): ("/admin/users", ADMIN),
    ("POST", "/admin/users"): ("/admin/users", ADMIN),
    ("POST", "/admin/users/<username>/active"): ("/admin/users/bystander/active", ADMIN),
    ("POST", "/admin/users/<username>/password"): ("/admin/users/bystander/password", ADMIN),
    ("POST", "/admin/users/<username>/tokens"): ("/admin/users/bystander/tokens", ADMIN),
    ("POST", "/admin/tokens/<int:token_id>/revoke"): ("/admin/tokens/{token}/revoke", ADMIN),
    ("GET", "/api/v1/patients"): ("/api/v1/patients", READ),
    ("GET", "/api/v1/patients/<external_id>"): ("/api/v1/patients/P-0001", READ),
    ("GET", "/api/v1/patients/<external_id>/timeline"): ("/api/v1/patients/P-0001/timeline",
                                                         READ),
    ("GET", "/api/v1/lesions/<int:lesion_id>"): ("/api/v1/lesions/{lesion}", READ),
    ("GET", "/api/v1/lesions/<int:lesion_id>/assessment"):
        ("/api/v1/lesions/{lesion}/assessment", READ),
    ("GET", "/api/v1/alerts"): ("/api/v1/alerts", READ),
    ("POST", "/api/v1/alerts/<int:alert_id>/acknowledge"):
        ("/api/v1/alerts/{alert}/acknowledge", READ),
    ("POST", "/api/v1/alerts/<int:alert_id>/snooze"): ("/api/v1/alerts/{alert}/snooze", READ),
    ("GET", "/api/v1/timelines"): ("/api/v1/timelines", READ),
    ("POST", "/api/v1/timelines"): ("/api/v1/timelines", WRITE),
    ("POST", "/api/v1/lesions/<int:lesion_id>/observations"):
        ("/api/v1/lesions/{lesion}/observations", READ),
    ("PUT", "/api/v1/observations/<int:observation_id>"):
        ("/api/v1/observations/{observation}", WRITE),
    ("DELETE", "/api/v1/observations/<int:observation_id>"):
        ("/api/v1/observations/{observation}", WRITE),
    ("POST", "/alerts/bulk"): ("/alerts/bulk", READ),
    ("GET", "/cohort"): ("/cohort", READ),
    ("GET", "/cohort/km.<fmt>"): ("/cohort/km.svg", READ),
    ("GET", "/cohort/km.csv"): ("/cohort/km.csv", READ),
    ("GET", "/cohort/waterfall.<fmt>"): ("/cohort/waterfall.svg", READ),
    ("GET", "/cohort/prognosis/<family>/<figure>.<fmt>"): ("/cohort/prognosis/hadd/forest.svg",
                                                          READ),
    ("GET", "/lesions/<int:lesion_id>/compare"): ("/lesions/{lesion}/compare", READ),
    ("GET", "/lesions/<int:lesion_id>/history"): ("/lesions/{lesion}/history", READ),
    ("GET", "/lesions/<int:lesion_id>/merge"): ("/lesions/{lesion}/merge", WRITE),
    ("POST", "/lesions/<int:lesion_id>/merge"): ("/lesions/{lesion}/merge", WRITE),
    ("GET", "/lesions/<int:lesion_id>/split"): ("/lesions/{lesion}/split", WRITE),
    ("POST", "/lesions/<int:lesion_id>/split"): ("/lesions/{lesion}/split", WRITE),
    ("GET", "/patients/<external_id>/history"): ("/patients/P-0001/history", READ),
    ("GET", "/patients/<external_id>/report"): ("/patients/P-0001/report", READ),
    ("GET", "/patients/<external_id>/report.pdf"): ("/patients/P-0001/report.pdf", READ),
    ("GET", "/patients/<external_id>/timepoints"): ("/patients/P-0001/timepoints", READ),
    ("POST", "/api/v1/lesions/<int:lesion_id>/merge"): ("/api/v1/lesions/{lesion}/merge", WRITE),
    ("POST", "/api/v1/lesions/<int:lesion_id>/split"): ("/api/v1/lesions/{lesion}/split", WRITE),
    ("GET", "/lesions/<int:lesion_id>/treatments/new"): ("/lesions/{lesion}/treatments/new",
                                                          READ),
    ("POST", "/lesions/<int:lesion_id>/treatments/new"): ("/lesions/{lesion}/treatments/new",
                                                           READ),
    ("GET", "/treatments/<int:treatment_id>/edit"): ("/treatments/{treatment}/edit", WRITE),
    ("POST", "/treatments/<int:treatment_id>/edit"): ("/treatments/{treatment}/edit", WRITE),
    ("POST", "/treatments/<int:treatment_id>/delete"): ("/treatments/{treatment}/delete", WRITE),
    ("POST", "/import/sr"): ("/import/sr", WRITE),
    ("GET", "/import/csv"): ("/import/csv", WRITE),
    ("POST", "/import/csv"): ("/import/csv", WRITE),
    ("GET", "/import/csv/rejects"): ("/import/csv/rejects", WRITE),
    ("GET", "/api/v1/patients/<external_id>/fhir"): ("/api/v1/patients/P-0001/fhir", READ),
    ("GET", "/api/v1/observations/<int:observation_id>"):
        ("/api/v1/observations/{observation}", READ),
    ("POST", "/api/v1/lesions/<int:lesion_id>/treatments"):
        ("/api/v1/lesions/{lesion}/treatments", READ),
    ("PUT", "/api/v1/treatments/<int:treatment_id>"): ("/api/v1/treatments/{treatment}", WRITE),
    ("DELETE", "/api/v1/treatments/<int:treatment_id>"):
        ("/api/v1/treatments/{treatment}", WRITE),
    ("POST", "/api/v1/sr"): ("/api/v1/sr", WRITE),
    ("GET", "/lesions/<int:lesion_id>/site"): ("/lesions/{lesion}/site", WRITE),
    ("POST", "/lesions/<int:lesion_id>/site"): ("/lesions/{lesion}/site", WRITE),
    ("PATCH", "/api/v1/lesions/<int:lesion_id>"): ("/api/v1/lesions/{lesion}", WRITE),
    ("GET", "/inbox"): ("/inbox", WRITE),
    ("GET", "/inbox/<int:report_id>"): ("/inbox/{report}", WRITE),
    ("POST", "/inbox/<int:report_id>/accept"): ("/inbox/{report}/accept", WRITE),
    ("POST", "/inbox/<int:report_id>/reject"): ("/inbox/{report}/reject", WRITE),
    ("GET", "/api/v1/inbox"): ("/api/v1/inbox", WRITE),
    ("GET", "/api/v1/inbox/<int:report_id>"): ("/api/v1/inbox/{report}", WRITE),
    ("POST", "/api/v1/inbox/<int:report_id>/accept"): ("/api/v1/inbox/{report}/accept", WRITE),
    ("POST", "/api/v1/inbox/<int:report_id>/reject"): ("/api/v1/inbox/{report}/reject", WRITE),
    ("GET", "/admin/pacs"): ("/admin/pacs", ADMIN),
    ("GET", "/lesions/<int:lesion_id>/key-images/<int:key_image_id>.png"):
        ("/lesions/{lesion}/key-images/{key_image}.png", READ),
    ("POST", "/logout"): ("/logout", PUBLIC),  # last: it signs every client out
}


# Access control does not depend on the database engine: one engine is enough for ~300 requests.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_route_allows_and_forbids_by_role(app: Any, login: Login, session: Session) -> None:
    """Every route x every role, anonymous included. Allowed: past the access check (no 401/403,
    never a 5xx; an empty form may be a 400). Below the route's role: 403. Anonymous: the
    sign-in page for a page, 401 for the API, 400 for a form post without its CSRF token."""
    from tracker.models import Observation, Treatment
    from tracker.services.users import create_user

    routes = {(m, r.rule) for r in app.url_map.iter_rules()
              for m in (r.methods or set()) - {"HEAD", "OPTIONS"}}
    assert routes == set(MATRIX), (routes - set(MATRIX), set(MATRIX) - routes)
    ids = seed_patient(session)
    create_user(session, "bystander", PASSWORD, "clinician", actor="test")
    treatment = Treatment(lesion_id=ids[1], date=date(2024, 2, 1), kind="lavage")
    session.add(treatment)
    session.commit()
    values = {"lesion": ids[0], "alert": session.scalar(select(Alert.id)),
              "token": issue_and_id(session), "treatment": treatment.id,
              "observation": session.scalar(select(Observation.id)
                                       .where(Observation.lesion_id == ids[1])),
              "report": seed_held_report(session),
              "key_image": seed_key_image(session, session.scalar(
                  select(Observation.id).where(Observation.lesion_id == ids[0])) or 0)}
    clients: dict[str | None, Client] = {role: login(role) for role in ROLES}
    clients[None] = login(None)
    checked = 0
    for (method, _rule), (template, least) in MATRIX.items():
        url = template.format(**values)
        for role, client in clients.items():
            is_api = url.startswith("/api/")
            if is_api:
                r = client.api(method, url)
            elif method == "POST":
                r = client.post(url) if role else client.client.post(url)
            else:
                r = client.get(url)
            where = (method, url, role or "anonymous", r.status_code)
            assert r.status_code < 500, where
            checked += 1
            if least is None:  # public (a wrong sign-in is a 401 from the form itself)
                assert r.status_code != 403, where
            elif role is None:
                expected = 401 if is_api else (302 if method == "GET" else 400)
                assert r.status_code == expected, where
                if expected == 302:
                    assert r.headers["Location"].startswith("/login"), where
            elif RANK[role] < RANK[least]:
                assert r.status_code == 403, where
            else:
                assert r.status_code not in (401, 403), where
    assert checked == len(MATRIX) * 4


def issue_and_id(session: Session) -> int:
    issue_token(session, "bystander", "matrix", actor="test")
    found = session.scalar(select(ApiToken.id).order_by(ApiToken.id.desc()))
    assert found is not None
    return found


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_matrix_follows_the_permission_map(app: Any) -> None:
    """Each route's least role is the one its permission maps to (`PERMISSIONS`), so the README
    table, the pages and the API cannot drift apart."""
    from tracker.services.users import PERMISSIONS, Permission

    assert PERMISSIONS[Permission.RECORD] == "clinician"
    assert PERMISSIONS[Permission.CORRECT_ANY] == PERMISSIONS[Permission.IDENTITY] == \
        PERMISSIONS[Permission.IMPORT] == "radiologist"
    for rule in app.url_map.iter_rules():
        role = getattr(app.view_functions[rule.endpoint], "required_role", None)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            least = MATRIX[(method, rule.rule)][1]
            if role is not None and "edit" not in rule.rule and "delete" not in rule.rule \
                    and method not in ("PUT", "DELETE"):
                assert role.value == least, (method, rule.rule, role, least)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_clinician_corrects_only_own_entries(login: Login, session: Session,
                                             api: Callable[..., Any]) -> None:
    """An orthopaedist measures on their own films: records an observation and a treatment,
    corrects and removes them; someone else's entries stay a radiologist's to correct."""
    from tracker.models import Observation, Treatment

    ids = seed_patient(session)
    clinician = login("clinician")
    r = clinician.post(f"/lesions/{ids[1]}/observations/new",
                       {"date": "2024-12-01", "modality": "XR", "visible": "yes",
                        "size_mm": "8", "density": "dense", "margin": "well_defined"})
    assert r.status_code == 302, r.text
    own = session.scalar(select(Observation.id).where(Observation.lesion_id == ids[1],
                                                      Observation.date == date(2024, 12, 1)))
    other = session.scalar(select(Observation.id).where(Observation.lesion_id == ids[1],
                                                        Observation.date == date(2024, 1, 10)))
    page = clinician.get(f"/lesions/{ids[1]}").text
    assert f"/observations/{own}/edit" in page and f"/observations/{other}/edit" not in page
    assert clinician.get(f"/observations/{own}/edit").status_code == 200
    assert clinician.get(f"/observations/{other}/edit").status_code == 403
    r = clinician.post(f"/lesions/{ids[1]}/treatments/new", {"date": "2024-12-02",
                                                             "kind": "eswt"})
    assert r.status_code == 302, r.text
    treatment = session.scalar(select(Treatment.id).where(Treatment.lesion_id == ids[1]))
    removed = clinician.post(f"/treatments/{treatment}/delete", {"reason": "wrong lesion"})
    assert removed.status_code == 302
    assert clinician.api("GET", f"/api/v1/observations/{other}").status_code == 200
    assert clinician.api("DELETE", f"/api/v1/observations/{other}",
                         headers={"If-Match": "*"}).status_code == 403
    assert api("DELETE", f"/api/v1/observations/{other}",
               headers={"If-Match": "*"}).status_code == 204  # a radiologist's token
