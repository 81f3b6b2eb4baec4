"""`tracker infer` as a script calls it: a real subprocess, no database anywhere."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

TRACKER = Path(sys.executable).parent / "tracker"
BAD = Path(__file__).resolve().parents[1] / "bad_inputs"


def infer(path: Path, as_of: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TRACKER), "infer", str(path), "--as-of", as_of], cwd=cwd,
                          env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "sqlite:////nonexistent/x"},
                          capture_output=True, text=True, timeout=60)


def reversed_doc(doc: dict[str, Any]) -> dict[str, Any]:
    rev = json.loads(json.dumps(doc))
    rev["patients"].reverse()
    for p in rev["patients"]:
        p["lesions"].reverse()
        for le in p["lesions"]:
            le["observations"].reverse()
    return rev


def test_infer_is_byte_identical_whatever_the_order(shared_dir: Path, tmp_path: Path) -> None:
    source = shared_dir / "vignettes" / "worked-examples.timeline.json"
    doc = json.loads(source.read_text())
    rev = tmp_path / "rev.json"
    rev.write_text(json.dumps(reversed_doc(doc)))
    a = infer(source, "2025-06-01", tmp_path)
    b = infer(rev, "2025-06-01", tmp_path)
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    out = json.loads(a.stdout)
    assert out["format"] == "lesion-assessment/1" and out["as_of"] == "2025-06-01"
    assert [(le["patient"], le["lesion"]) for le in out["lesions"]] == sorted(
        (p["id"], le["id"]) for p in doc["patients"] for le in p["lesions"])
    v02 = next(le for le in out["lesions"] if le["patient"] == "V02")
    assert [a["rule"] for a in v02["alerts"]] == ["hadd.no_resolution"]
    assert not list(tmp_path.glob("*.sqlite")), "infer must not create a database"


@pytest.mark.parametrize("name", ["size_501.json", "duplicate_date.json", "not_json.json"])
def test_infer_rejects_invalid_input_like_import(name: str, tmp_path: Path) -> None:
    res = infer(BAD / name, "2025-01-01", tmp_path)
    assert res.returncode == 2
    assert res.stdout == ""
    assert json.loads((BAD / "expected_paths.json").read_text())[name] in res.stderr


def test_infer_rejects_a_bad_as_of(shared_dir: Path, tmp_path: Path) -> None:
    source = shared_dir / "vignettes" / "worked-examples.timeline.json"
    res = infer(source, "01/06/2025", tmp_path)
    assert res.returncode == 2 and "--as-of" in res.stderr
