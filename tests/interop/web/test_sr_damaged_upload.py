"""`POST /api/v1/sr` with damaged DICOM SR files: 400 naming the file, never 500, nothing
written."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from tests.interop.test_sr_damaged import ISSUE_CUT, reports, some_damaged
from tests.interop.web.test_web_interop import observations

__all__ = ["reports"]


def test_the_api_answers_400_for_each_damaged_file(
        api: Callable[..., Any], session: Session, reports: dict[str, bytes]) -> None:
    refused = 0
    for label, data in some_damaged(reports, 12):
        before = observations(session)
        r = api("POST", "/api/v1/sr", data={"file": [(io.BytesIO(data), label)],
                                            "compartment": "tendon"},
                content_type="multipart/form-data")
        if r.status_code == 200:
            continue  # harmless damage: imported as it was
        refused += 1
        assert r.status_code == 400, (label, r.status_code, r.text)
        assert all(e["path"].startswith(label) and "\n" not in e["message"]
                   for e in r.json["errors"]), r.json
        session.expire_all()
        assert observations(session) == before
    assert refused >= 6
    r = api("POST", "/api/v1/sr", data={"file": [(io.BytesIO(reports["prior.dcm"][:ISSUE_CUT]),
                                                  "visit.dcm")], "compartment": "tendon"},
            content_type="multipart/form-data")
    assert r.status_code == 400
    assert r.json["errors"] == [{"path": "visit.dcm", "message": f"is cut short: its {ISSUE_CUT}"
                                 " bytes end inside a DICOM element (the file was copied or"
                                 " downloaded only in part)"}]
