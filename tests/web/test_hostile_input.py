"""Hostile input through every web entry point: the bad-input corpus through the API import and
the upload form, numbers no field can hold, non-ASCII digits in URLs. Each is a 400 (or 404)
saying where, never a 500, and nothing is written."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.web.conftest import Client
from tests.web.seed import seed_patient
from tracker.models import Alert, AuditEvent, Lesion, Observation, Patient

BAD = Path(__file__).resolve().parents[1] / "bad_inputs"
EXPECTED_PATHS: dict[str, str] = json.loads((BAD / "expected_paths.json").read_text())
HUGE = "9" * 4301  # one digit past Python's int/str conversion limit


def counts(session: Session) -> dict[str, int]:
    session.expire_all()
    return {t.__tablename__: session.scalar(select(func.count()).select_from(t)) or 0
            for t in (Patient, Lesion, Observation, Alert, AuditEvent)}


def test_corpus_through_api_import_and_upload_form(login: Any, session: Session) -> None:
    """Every file of the corpus, as `POST /api/v1/timelines` and as the import page's upload:
    400 naming the same path as `tracker import`, nothing written."""
    seed_patient(session)
    radiologist: Client = login("radiologist")
    before = counts(session)
    for name, path in sorted(EXPECTED_PATHS.items()):
        data = (BAD / name).read_bytes()
        r = radiologist.api("POST", "/api/v1/timelines", data=data,
                            content_type="application/json")
        assert r.status_code == 400, (name, r.status_code, r.text[:300])
        assert r.json is not None
        shown = "\n".join(f"{e['path']}: {e['message']}" for e in r.json["errors"])
        assert path in shown, (name, shown[:300])
        r = radiologist.post("/import", data={"file": (io.BytesIO(data), name)},
                             content_type="multipart/form-data")
        assert r.status_code == 400, (name, r.status_code)
        assert path in html.unescape(re.sub(r"<[^>]+>", "", r.text)), name
        assert counts(session) == before, name


def test_a_number_with_thousands_of_digits_is_a_400_everywhere(login: Any,
                                                               session: Session) -> None:
    """Python refuses to convert an integer of more than 4300 digits: that must read as bad
    input (400 with its path) on every JSON endpoint, not a server error."""
    ids = seed_patient(session)
    alert_id = session.scalar(select(Alert.id))
    observation_id = session.scalar(select(Observation.id).where(Observation.lesion_id == ids[0]))
    radiologist: Client = login("radiologist")
    before = counts(session)
    observation = ('{"date": "2024-12-01", "modality": "XR", "size_mm": [7.5], '
                   f'"pain": {HUGE}}}')
    cases = [
        ("POST", f"/api/v1/alerts/{alert_id}/acknowledge", f'{{"reason": {HUGE}}}', "reason"),
        ("POST", f"/api/v1/alerts/{alert_id}/snooze",
         f'{{"until": "2099-01-01", "reason": {HUGE}}}', "reason"),
        ("POST", f"/api/v1/lesions/{ids[0]}/observations", observation, "pain"),
        ("PUT", f"/api/v1/observations/{observation_id}", observation, "pain"),
        ("POST", "/api/v1/timelines", (BAD / "huge_integer.json").read_text(),
         "patients[0].lesions[0].observations[0].pain"),
        ("POST", f"/api/v1/alerts/{alert_id}/acknowledge", f"[-{HUGE}]", "[0]"),
    ]
    for method, url, body, path in cases:
        r = radiologist.api(method, url, data=body, content_type="application/json")
        assert r.status_code == 400, (url, r.status_code)
        assert r.json is not None
        assert path in {e["path"] for e in r.json["errors"]}, (url, r.json)
        assert "digits" in json.dumps(r.json), r.json
    assert counts(session) == before


@pytest.mark.parametrize("digits", ["١", "１", "۱", "¹", "1\u0661"])
def test_integer_routes_accept_ascii_digits_only(login: Any, session: Session, digits: str) -> None:
    """`/lesions/١` (Arabic-Indic one) must not be lesion 1: ids are ASCII digits."""
    ids = seed_patient(session)
    assert ids[0] == 1
    clinician: Client = login("clinician")
    assert clinician.get("/lesions/1").status_code == 200
    assert clinician.get(f"/lesions/{digits}").status_code == 404
    assert clinician.api("GET", f"/api/v1/lesions/{digits}").status_code == 404
    assert clinician.api("GET", f"/api/v1/lesions/{digits}/assessment").status_code == 404


def many_mistakes(count: int) -> dict[str, Any]:
    """A timeline with `count` invalid observations (pain 11 each)."""
    observations = [{"date": f"{2000 + i // 300}-{1 + i // 25 % 12:02d}-{1 + i % 25:02d}",
                     "modality": "XR", "size_mm": [5.0], "density": "dense",
                     "margin": "well_defined", "pain": 11} for i in range(count)]
    return {"format": "lesion-timeline/1", "patients": [{"id": "M-1", "birth_year": 1950,
            "lesions": [{"id": "L1", "site": {"compartment": "tendon", "region": "shoulder",
                                              "laterality": "left"},
                         "observations": observations}]}]}


def test_reported_problems_are_capped_with_a_total(login: Any, session: Session, tmp_path: Path,
                                                   database_url: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A file with 1,500 mistakes: the API, the upload page and the CLI each list the first
    100 (in path order) and say how many there are in all."""
    from click.testing import CliRunner

    from tracker.cli.main import main

    data = json.dumps(many_mistakes(1500))
    first = "patients[0].lesions[0].observations[0].pain"
    radiologist: Client = login("radiologist")
    r = radiologist.api("POST", "/api/v1/timelines", data=data, content_type="application/json")
    assert r.status_code == 400 and r.json is not None
    assert len(r.json["errors"]) == 100 and r.json["total"] == 1500
    assert r.json["errors"][0]["path"] == first
    assert len(r.data) < 20_000
    r = radiologist.post("/import", data={"file": (io.BytesIO(data.encode()), "many.json")},
                         content_type="multipart/form-data")
    assert r.status_code == 400
    assert r.text.count("<li><code>") == 100
    assert "1500 problems in all; only the first 100 are listed" in r.text
    path = tmp_path / "many.json"
    path.write_text(data)
    monkeypatch.setenv("DATABASE_URL", database_url)
    res = CliRunner().invoke(main, ["import", str(path)])
    assert res.exit_code == 2
    lines = res.stderr.splitlines()
    assert len(lines) == 101 and lines[0].startswith(f"error: {first}")
    assert lines[-1] == "error: 1500 problems in all; only the first 100 are listed"
    assert counts(session)["observations"] == 0


def test_hostile_values_in_the_observation_form(login: Any, session: Session) -> None:
    """The record-observation form with values no field can hold: each a 400 naming the
    field, nothing stored."""
    ids = seed_patient(session)
    radiologist: Client = login("radiologist")
    good = {"date": "2024-12-01", "modality": "XR", "visible": "yes", "size_mm": "7",
            "density": "dense", "margin": "well_defined"}
    before = counts(session)
    for field, value in [("pain", HUGE), ("size_mm", HUGE), ("size_mm", "1e999"),
                         ("size_mm", "nan"), ("pain", "-" + HUGE), ("note", "a\x00b"),
                         ("date", "2024-12-0１"), ("modality", "X" * 5000)]:
        r = radiologist.post(f"/lesions/{ids[0]}/observations/new", data={**good, field: value})
        assert r.status_code == 400, (field, value[:20], r.status_code)
        assert field in r.text
    assert counts(session) == before


def test_nesting_100000_deep_is_refused_while_reading_everywhere(
        login: Any, session: Session, tmp_path: Path, database_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """200 KB of nested arrays (depth 100,000) once made a web worker grow without bound: the
    API, the upload page and `tracker import` each stop at the format's nesting limit, saying
    where, and write nothing."""
    from click.testing import CliRunner

    from tracker.cli.main import main

    depth = 100_000
    data = ('{"format": "lesion-timeline/1", "patients": '
            + "[" * depth + "]" * depth + "}").encode()
    where = "patients" + "[0]" * 32
    expected = f"{where}: is nested more than 32 levels deep"
    radiologist: Client = login("radiologist")
    r = radiologist.api("POST", "/api/v1/timelines", data=data, content_type="application/json")
    assert r.status_code == 400 and r.json is not None
    assert [f"{e['path']}: {e['message']}" for e in r.json["errors"]] == [expected]
    r = radiologist.post("/import", data={"file": (io.BytesIO(data), "deep.json")},
                         content_type="multipart/form-data")
    assert r.status_code == 400
    assert expected in html.unescape(re.sub(r"<[^>]+>", "", r.text))
    path = tmp_path / "deep.json"
    path.write_bytes(data)
    monkeypatch.setenv("DATABASE_URL", database_url)
    res = CliRunner().invoke(main, ["import", str(path)])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [f"error: {expected}"]
    assert counts(session)["patients"] == 0
