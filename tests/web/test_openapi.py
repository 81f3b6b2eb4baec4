"""The OpenAPI document is true: schemathesis fuzzes every operation of `/api/v1/openapi.json`
as every role, with generated bodies, query strings and ids, and the answers match the document
(no server error, no schema violation, 405 with `Allow`). Bounded: a few examples per operation
and generation mode, on PostgreSQL."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core import NOT_SET
from sqlalchemy import select

from tests.web.seed import make_users, seed_held_report, seed_patient
from tracker.db import session_factory
from tracker.models import Alert, Observation
from tracker.services.users import issue_token
from web import create_app

# Every built-in check but one: `positive_data_acceptance` expects any schema-valid body to be
# accepted, and some rules cannot be written in JSON Schema (a date after today, a visit not
# before the patient's birth year, a snooze reason the service requires with the date). Those
# answer 400 with their path, which the other checks still hold to the document.
load_all_checks()
CHECKS_USED = [c for c in CHECKS.get_all() if c.__name__ != "positive_data_acceptance"]
# Examples per operation and generation mode: the writing role gets the most (its bodies reach
# the service); anonymous requests all end at the 401.
EXAMPLES = {None: 1, "clinician": 2, "radiologist": 3, "admin": 1}


@pytest.fixture
def fuzzed_app(postgres_url: str) -> tuple[Any, dict[str, str], dict[str, Any]]:
    with session_factory(postgres_url)() as s:
        make_users(s)
        lesion_ids = seed_patient(s)
        tokens = {role: issue_token(s, role, "fuzz", actor="test")
                  for role in ("clinician", "radiologist", "admin")}
        ids = {"lesion_id": lesion_ids[1], "external_id": "P-0001",
               "report_id": seed_held_report(s),
               "alert_id": s.scalar(select(Alert.id)),
               "observation_id": s.scalar(select(Observation.id)
                                          .where(Observation.lesion_id == lesion_ids[1]))}
    app = create_app({"TESTING": True, "DATABASE_URL": postgres_url, "SECRET_KEY": "test",
                      "SESSION_COOKIE_SECURE": False})
    return app, tokens, ids


def test_document_is_openapi_3_1_with_bodies_errors_and_security(app: Any) -> None:
    spec = app.test_client().get("/api/v1/openapi.json").json
    assert spec["openapi"] == "3.1.0"  # pydantic's schemas are JSON Schema 2020-12
    operations = [(path, method, op) for path, item in spec["paths"].items()
                  for method, op in item.items()]
    assert len(operations) == 26
    for path, method, op in operations:
        assert op["security"] == [{"bearerAuth": []}], (path, method)
        assert {"401", "403"} <= set(op["responses"]), (path, method)
        for code, response in op["responses"].items():
            if code.startswith("4"):
                schema = response["content"]["application/json"]["schema"]["$ref"]
                # 412 of a conditional write: the errors and the current value
                expected = ("StaleErrors",) if code == "412" else ("ValidationError", "HTTPError")
                assert schema.rsplit("/", 1)[1] in expected, (path, method, code)
    writes = {(p, m) for p, m, op in operations if "requestBody" in op}
    assert writes == {("/api/v1/lesions/{lesion_id}/observations", "post"),
                      ("/api/v1/observations/{observation_id}", "put"),
                      ("/api/v1/alerts/{alert_id}/acknowledge", "post"),
                      ("/api/v1/alerts/{alert_id}/snooze", "post"),
                      ("/api/v1/timelines", "post"),
                      ("/api/v1/lesions/{lesion_id}/treatments", "post"),
                      ("/api/v1/treatments/{treatment_id}", "put"),
                      ("/api/v1/lesions/{lesion_id}/merge", "post"),
                      ("/api/v1/lesions/{lesion_id}/split", "post"),
                      ("/api/v1/lesions/{lesion_id}", "patch"),
                      ("/api/v1/sr", "post"),
                      ("/api/v1/inbox/{report_id}/accept", "post"),
                      ("/api/v1/inbox/{report_id}/reject", "post")}
    removal = spec["paths"]["/api/v1/treatments/{treatment_id}"]["delete"]
    assert [p["name"] for p in removal["parameters"] if p["in"] == "query"] == ["reason"]
    upload = spec["paths"]["/api/v1/sr"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert upload["schema"]["required"] == ["file"]
    assert set(upload["schema"]["properties"]) == {"file", "compartment"}
    delete = spec["paths"]["/api/v1/observations/{observation_id}"]["delete"]
    assert "only observation" in delete["responses"]["409"]["description"]
    errors = spec["components"]["schemas"]["ValidationError"]
    assert errors["properties"]["errors"]["items"]["properties"]["path"]["type"] == "string"
    alerts = {p["name"] for p in spec["paths"]["/api/v1/alerts"]["get"]["parameters"]}
    assert alerts == {"kind", "severity", "region", "state", "page", "per_page", "after"}
    # the docs page renders 3.1: Swagger UI 5, served from this app
    docs = app.test_client().get("/api/v1/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs)
    assert assets and all(a.startswith("/") for a in assets), assets
    bundle = app.test_client().get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200


def test_a_wrong_method_is_405_with_allow(login: Any) -> None:
    client = login("clinician")
    r = client.api("DELETE", "/api/v1/patients")
    assert r.status_code == 405 and r.json["errors"][0]["path"] == ""
    assert set(r.headers["Allow"].split(", ")) >= {"GET", "HEAD", "OPTIONS"}
    r = client.api("PATCH", "/api/v1/observations/1")
    assert r.status_code == 405 and {"PUT", "DELETE"} <= set(r.headers["Allow"].split(", "))
    r = client.client.put("/patients")
    assert r.status_code == 405 and "GET" in r.headers["Allow"]
    # an id no row can have is not found, whatever the method (not 405, not a database error)
    for method in ("PUT", "DELETE"):
        r = client.api(method, "/api/v1/observations/9027462661735644542", json={})
        assert r.status_code == 404, method


def fuzz(strategy: Any, examples: int, headers: dict[str, str], label: str,
         bodies: Counter[str], statuses: Counter[int]) -> None:
    """Send `examples` generated cases of one operation; every check must hold."""

    @given(case=strategy)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        if case.body is not NOT_SET:
            bodies[label] += 1
        response = case.call_and_validate(headers=headers, checks=CHECKS_USED)
        statuses[response.status_code] += 1

    run()


@pytest.mark.postgres
def test_schemathesis_every_operation_as_every_role(
    fuzzed_app: tuple[Any, dict[str, str], dict[str, Any]],
) -> None:
    app, tokens, ids = fuzzed_app  # assessment requests are recorded (tests/web/conftest.py)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 26
    bodies: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    for role, examples in EXAMPLES.items():
        headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
        for operation in operations:
            known = {p.name: ids[p.name] for p in operation.path_parameters if p.name in ids}
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                # real ids for the valid cases (the bodies reach the service), any for the rest
                strategy = operation.as_strategy(
                    generation_mode=mode,
                    path_parameters=known if mode is GenerationMode.POSITIVE else None)
                fuzz(strategy, examples, headers, operation.label, bodies, statuses)
    # every operation with a request body got generated bodies
    with_body = {op.label for op in operations if op.body}
    assert len(with_body) == 13 and with_body <= set(bodies), (with_body, bodies)
    assert statuses[401] and statuses[403] and statuses[400] and statuses[200]
    assert not [code for code in statuses if code >= 500], statuses
