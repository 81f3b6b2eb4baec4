"""Correcting a lesion's site and splitting with a chosen site or a divided visit, from the
page, the API (version-checked PATCH) and the CLI; and who may do it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.web.conftest import Client
from tests.web.seed import seed_patient
from tracker.cli.main import main
from tracker.models import AuditEvent, Lesion, Observation

Login = Callable[[str | None], Client]
SITE = {"compartment": "tendon", "region": "shoulder", "structure": "supraspinatus",
        "laterality": "left"}


def _site(session: Session, lesion_id: int) -> tuple[str, str, str | None]:
    session.expire_all()
    row = session.get(Lesion, lesion_id)
    assert row is not None
    return row.region, row.laterality, row.structure


def test_site_page_corrects_and_refuses(login: Login, session: Session,
                                        queued: list[list[int]]) -> None:
    lesion_id = seed_patient(session)[0]
    clinician = login("clinician")
    assert clinician.get(f"/lesions/{lesion_id}/site").status_code == 403
    assert "Correct site" not in clinician.get(f"/lesions/{lesion_id}").text
    client = login("radiologist")
    page = client.get(f"/lesions/{lesion_id}/site")
    assert page.status_code == 200 and 'name="version"' in page.text
    version = session.scalar(select(Lesion.data_version).where(Lesion.id == lesion_id))
    bad = client.post(f"/lesions/{lesion_id}/site", {**SITE, "laterality": "midline",
                                                     "reason": "", "version": str(version)})
    assert bad.status_code == 400
    assert "midline is only for the spine" in bad.text and "say briefly why" in bad.text
    stale = client.post(f"/lesions/{lesion_id}/site", {**SITE, "reason": "left",
                                                       "version": str(version - 1)})
    assert stale.status_code == 409 and "changed since it was read" in stale.text
    assert _site(session, lesion_id) == ("shoulder", "right", "supraspinatus")
    ok = client.post(f"/lesions/{lesion_id}/site", {**SITE, "reason": "the films are left",
                                                    "version": str(version)})
    assert ok.status_code == 302 and queued[-1] == [lesion_id]
    assert _site(session, lesion_id) == ("shoulder", "left", "supraspinatus")
    history = client.get(f"/lesions/{lesion_id}/history").text
    assert "the films are left" in history and "lesion L1" in history


def test_api_patch_needs_the_current_version(api: Callable[..., Any],
                                             session: Session) -> None:
    lesion_id = seed_patient(session)[0]
    got = api("GET", f"/api/v1/lesions/{lesion_id}").json
    body = {"site": {**SITE, "region": "hip", "structure": None}, "reason": "hip films",
            "version": got["version"]}
    stale = api("PATCH", f"/api/v1/lesions/{lesion_id}", json={**body, "version": 999})
    assert stale.status_code == 412
    bad = api("PATCH", f"/api/v1/lesions/{lesion_id}",
              json={**body, "site": {**SITE, "region": "lung"}})
    assert bad.status_code == 400 and bad.json["errors"][0]["path"] == "region"
    ok = api("PATCH", f"/api/v1/lesions/{lesion_id}", json=body)
    assert ok.status_code == 200, ok.json
    assert ok.json["site"] == {"compartment": "tendon", "region": "hip", "structure": None,
                               "laterality": "left"}
    assert ok.json["assessment"]["status"] == "pending"
    spec = api("GET", "/api/v1/openapi.json").json
    assert "patch" in spec["paths"]["/api/v1/lesions/{lesion_id}"]


def test_split_page_and_api_choose_the_site_and_divide(login: Login, session: Session,
                                                       api: Callable[..., Any]) -> None:
    lesion_id = seed_patient(session, lesions=1)[0]
    obs_ids = list(session.scalars(select(Observation.id).where(
        Observation.lesion_id == lesion_id).order_by(Observation.date)))
    client = login("radiologist")
    form = client.get(f"/lesions/{lesion_id}/split").text
    assert 'name="site_region"' in form and f'name="divide_new.{obs_ids[0]}"' in form
    ok = client.post(f"/lesions/{lesion_id}/split", {
        f"divide_new.{obs_ids[0]}": "5", f"divide_remaining.{obs_ids[0]}": "9 x 6",
        "site_compartment": "tendon", "site_region": "shoulder",
        "site_structure": "infraspinatus", "site_laterality": "right",
        "new_lesion": "L1b", "reason": "two deposits on one film"})
    assert ok.status_code == 302, ok.text
    new = session.scalar(select(Lesion).where(Lesion.external_id == "L1b"))
    assert new is not None and new.structure == "infraspinatus"
    sizes = session.execute(select(Observation.lesion_id, Observation.size1_mm,
                                   Observation.size2_mm)
                            .where((Observation.id == obs_ids[0])
                                   | (Observation.lesion_id == new.id))).all()
    assert sorted(tuple(r) for r in sizes) == sorted([(lesion_id, 9.0, 6.0), (new.id, 5.0, None)])
    r = api("POST", f"/api/v1/lesions/{lesion_id}/split",
            json={"divide": [{"observation": obs_ids[1], "new_size_mm": [4],
                              "remaining_size_mm": [5]}],
                  "new_lesion": "L1c", "site": {**SITE, "laterality": "midline"},
                  "reason": "x"})
    assert r.status_code == 400 and r.json["errors"][0]["path"] == "site.laterality"


def test_cli_lesion_site_and_split_with_a_site(session: Session, database_url: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    seed_patient(session, "P-CLI", lesions=1)
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    bad = runner.invoke(main, ["lesion", "site", "P-CLI", "L1", "--laterality", "midline",
                               "--reason", "x"])
    assert bad.exit_code == 2 and "midline is only for the spine" in bad.output
    ok = runner.invoke(main, ["lesion", "site", "p-cli", "L1", "--laterality", "left",
                              "--reason", "left on the films"])
    assert ok.exit_code == 0, ok.output
    split = runner.invoke(main, ["lesion", "split", "P-CLI", "L1", "--divide",
                                 "2024-09-15=4/8", "--new-id", "L2", "--structure",
                                 "subscapularis", "--reason", "two deposits"])
    assert split.exit_code == 0, split.output
    assert "0 observation(s) moved and 1 visit(s) divided" in split.output
    session.expire_all()
    new = session.scalar(select(Lesion).where(Lesion.external_id == "L2"))
    assert new is not None and (new.laterality, new.structure) == ("left", "subscapularis")
    actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert "lesion.site" in actions and "lesion.split" in actions
