"""`tracker import-csv`: one row per observation, the timeline's validation, all or nothing."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from tests.cli.test_import_export import row_counts

HEADER = ("patient,birth_year,sex,lesion,compartment,region,structure,laterality,entity,date,"
          "modality,visible,size1_mm,size2_mm,density,margin,features,pain,note")
GOOD = [
    "P-0001,1968,F,L1,tendon,shoulder,supraspinatus,right,hadd,2024-01-10,XR,,14,8,dense,"
    "well_defined,,3,baseline",
    "P-0001,,,L1,tendon,shoulder,supraspinatus,right,,2024-04-12,XR,,12.5,,dense,"
    "ill_defined,intrabursal_migration;comet_tail,,",
    "P-0002,,,H1,soft_tissue,thigh,,left,ho,2024-03-01,CT,yes,40,22,moderate,ill_defined,,,",
    "P-0001,,,L1,tendon,shoulder,supraspinatus,right,,2024-07-15,XR,false,,,,,,,not seen",
]
BAD = [
    "P-0003,,,X1,tendon,shoulder,,up,,2024-01-10,XR,,14,,dense,well_defined,,,",       # line 6
    "P-0003,,,X2,tendon,knee,,left,,2024-13-01,XR,,-2,,dense,well_defined,,,",        # line 7
    "P-0001,,,L1,tendon,shoulder,supraspinatus,right,,2024-01-10,XR,,9,,dense,"
    "well_defined,,,",                                                                 # line 8
]


def write(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "visits.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_rows_become_observations(run: Any, tmp_path: Path) -> None:
    result = run("import-csv", str(write(tmp_path, GOOD)))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert "checking: 4 rows" in result.output and "importing: 4 rows" in result.output
    assert (summary["patients_created"], summary["lesions_created"],
            summary["observations_created"]) == (2, 2, 4)
    doc = json.loads(run("export", "--patient", "P-0001").output)
    [lesion] = doc["patients"][0]["lesions"]
    assert doc["patients"][0]["birth_year"] == 1968 and lesion["entity"] == "hadd"
    obs = lesion["observations"]
    assert [o["date"] for o in obs] == ["2024-01-10", "2024-04-12", "2024-07-15"]
    assert obs[0]["size_mm"] == [14, 8] and obs[0]["pain"] == 3 and obs[0]["note"] == "baseline"
    assert obs[1]["features"] == ["intrabursal_migration", "comet_tail"]
    assert obs[2]["visible"] is False and "size_mm" not in obs[2]
    again = json.loads(run("import-csv", str(write(tmp_path, GOOD))).output.splitlines()[-1])
    assert again["observations_unchanged"] == 4 and again["observations_created"] == 0


def test_every_bad_row_is_named_and_nothing_is_written(run: Any, tmp_path: Path,
                                                       database_url: str) -> None:
    before = row_counts(database_url)
    result = run("import-csv", str(write(tmp_path, GOOD + BAD)))
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors == [
        'error: line 6, laterality: "up" is not a laterality code (one of: right, left,'
        " midline)",
        'error: line 7, date: "2024-13-01" is not a date (YYYY-MM-DD)',
        "error: line 7, size1_mm: -2 must be above 0",
        "error: line 8, date: lesion L1 of P-0001 already has an observation on 2024-01-10"
        " (line 2)",
    ]
    assert row_counts(database_url) == before
    assert not (tmp_path / "visits.csv.rejects.csv").exists()


def test_skip_bad_imports_good_rows_and_writes_rejects(run: Any, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + BAD)
    result = run("import-csv", str(path), "--skip-bad")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["observations_created"] == 4 and summary["rows_rejected"] == 3
    with (tmp_path / "visits.csv.rejects.csv").open(encoding="utf-8-sig", newline="") as fh:
        rejects = list(csv.DictReader(fh))
    assert [r["line"] for r in rejects] == ["6", "7", "8"]
    assert rejects[1]["errors"] == ('date: "2024-13-01" is not a date (YYYY-MM-DD); '
                                    "size1_mm: -2 must be above 0")
    assert rejects[1]["size1_mm"] == "'-2"  # what a person typed never runs as a formula
    assert rejects[0]["patient"] == "P-0003" and rejects[0]["laterality"] == "up"


def test_unknown_or_missing_columns_are_refused(run: Any, tmp_path: Path) -> None:
    path = tmp_path / "typo.csv"
    path.write_text("patient,lesion,compartment,region,laterality,date,modalty\n")
    result = run("import-csv", str(path))
    assert result.exit_code == 2
    assert "line 1: unknown column 'modalty'" in result.output
    assert "line 1: column 'modality' is required" in result.output
