"""Rows changed by hand in SQL: `tracker check` names each by patient / lesion / observation,
the scan says which lesion failed in one line, and an export still writes everything but warns
that it would not import again (CLI: stderr; API: a header)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from tests.cli.test_import_export import demo_patients, write
from tracker.db import session_factory
from tracker.models import Lesion, Observation, Patient


def corrupt(url: str) -> list[str]:
    """Three bad rows, as an operator's hand-written SQL leaves them; the paths check names."""
    with session_factory(url)() as s:
        rows = s.execute(select(Observation.id, Observation.date, Lesion.id, Lesion.external_id,
                                Patient.external_id)
                         .join(Lesion, Observation.lesion_id == Lesion.id)
                         .join(Patient, Lesion.patient_id == Patient.id)
                         .order_by(Patient.external_id, Lesion.id, Observation.date)).all()
        first, second = rows[0], next(r for r in rows if r[4] != rows[0][4])
        s.execute(update(Observation).where(Observation.id == first[0])
                  .values(date=date(2099, 1, 1)))  # in the future
        s.execute(update(Observation).where(Observation.id == second[0])
                  .values(accession="ACC\\1"))  # no backslash in an accession number
        emptied = rows[-1]
        s.execute(delete(Observation).where(Observation.lesion_id == emptied[2]))
        s.commit()
    return [f"patient {first[4]} / lesion {first[3]} / observation 2099-01-01: date",
            f"patient {second[4]} / lesion {second[3]} / observation {second[1]}: accession",
            f"patient {emptied[4]} / lesion {emptied[3]}: observations"]


def test_check_names_each_bad_row_and_export_warns(run: Any, database_url: str,
                                                   tmp_path: Path) -> None:
    assert run("import", write(tmp_path, demo_patients(4))).exit_code == 0
    clean = run("check")
    assert clean.exit_code == 0 and "every stored row is valid" in clean.stdout
    expected = corrupt(database_url)
    res = run("check")
    assert res.exit_code == 1
    lines = res.stdout.splitlines()
    for path in expected:
        assert any(line.startswith(path) for line in lines), (path, lines)
    assert len(lines) == 3
    out = tmp_path / "backup.json"
    exported = run("export", "-o", str(out))
    assert exported.exit_code == 0
    assert "3 patient(s) of this export would not import again" in exported.stderr
    doc = json.loads(out.read_text())
    assert len(doc["patients"]) == 4  # everything is still written
    refused = run("import", str(out))
    assert refused.exit_code == 2


def test_a_lesion_the_scan_cannot_assess_is_one_line_and_a_failed_exit(
        run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database's constraints keep most hand-made damage out; what still reaches the rules
    unreadable (here: the rules refuse one lesion's findings) is named in one line, the other
    lesions are assessed, and the scan exits non-zero: no traceback, no silent success."""
    from tracker.services.assessment import assess

    assert run("import", write(tmp_path, demo_patients(2))).exit_code == 0
    real, refused = assess.infer, []

    def refuses_one(facts: Any, as_of: Any) -> Any:
        if not refused:
            refused.append(facts)
            raise ValueError("finding on 2024-01-10: size_mm[0] must be the longest")
        return real(facts, as_of)

    monkeypatch.setattr(assess, "infer", refuses_one)
    scan = run("scan")
    assert scan.exit_code == 1
    assert "Traceback" not in scan.stderr
    report = json.loads(scan.stdout)
    assert len(report["failed"]) == 1 and report["changed"] > 0
    failed = [ln for ln in scan.stderr.splitlines() if "could not be assessed" in ln]
    assert failed == [f"error: scan: 1 lesion(s) could not be assessed (lesion row ids "
                      f"{report['failed'][0]}); `tracker check` names the stored rows at fault"]
