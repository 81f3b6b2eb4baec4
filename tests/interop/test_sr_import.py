"""`tracker import-sr` on SR files written by highdicom: what is stored, and what is refused."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from pydicom.uid import generate_uid
from sqlalchemy import select

from testkit.dicom import (
    AREA,
    CM,
    KNEE,
    LEFT_SRT,
    LENGTH,
    LONG_AXIS_SRT,
    LUNG,
    MM,
    MM2,
    SHORT_AXIS,
    SHOULDER_SRT,
)
from tests.cli.test_import_export import row_counts
from tests.interop.sr_files import Group, write_sr
from tracker.db import session_factory
from tracker.models import Lesion, Treatment
from tracker.services.treatments import record_treatment
from tracker.timeline.models import TreatmentIn

DEPOSIT = generate_uid()


def viewer_export(folder: Path) -> Path:
    """What a viewer leaves in a folder after three visits of one patient."""
    folder.mkdir(exist_ok=True)
    write_sr(folder / "visit1.dcm", [Group(
        tracking_uid=DEPOSIT, measurements=[(LENGTH, 14.0, MM), (SHORT_AXIS, 0.8, CM)])],
        study_date="20240110", accession="ACC-1")
    write_sr(folder / "visit2.dcm", [
        Group(site=SHOULDER_SRT, tracking_uid=DEPOSIT, measurements=[(LONG_AXIS_SRT, 1.2, CM)]),
        Group(site=KNEE, laterality=LEFT_SRT, tracking_uid=None, tracking_id="Knee 1",
              measurements=[(LENGTH, 6.5, MM)])],
        study_date="20240412", modality="DX", accession="ACC-2")
    write_sr(folder / "visit3.dcm", [Group(tracking_uid=DEPOSIT,
                                           measurements=[(LENGTH, 9.0, MM)])],
             study_date="20240715", modality="US")
    return folder


def stored(run: Any) -> dict[str, Any]:
    result = run("export", "--patient", "P-0001")
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.output)
    return doc


def test_a_folder_of_reports_becomes_a_timeline(run: Any, tmp_path: Path,
                                                database_url: str) -> None:
    folder = viewer_export(tmp_path / "export")
    result = run("import-sr", str(folder), "--compartment", "tendon")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["patients_created"], summary["lesions_created"],
            summary["observations_created"], summary["files"]) == (1, 2, 4, 3)

    [patient] = stored(run)["patients"]
    lesions = {le["id"]: le for le in patient["lesions"]}
    deposit = lesions[DEPOSIT]
    assert deposit["site"] == {"compartment": "tendon", "region": "shoulder",
                               "laterality": "right"}
    assert [(o["date"], o["modality"], o["size_mm"]) for o in deposit["observations"]] == [
        ("2024-01-10", "CT", [14.0, 8.0]), ("2024-04-12", "XR", [12.0]),
        ("2024-07-15", "US", [9.0])]
    assert all("density" not in o for o in deposit["observations"])  # not assessed
    first = deposit["observations"][0]
    assert first["accession"] == "ACC-1" and first["study_uid"].replace(".", "").isdigit()
    [knee] = [le for le in patient["lesions"] if le["id"] != DEPOSIT]
    assert knee["site"]["laterality"] == "left" and knee["site"]["region"] == "knee"

    # the same reports again change nothing
    before = row_counts(database_url)
    again = json.loads(run("import-sr", str(folder)).output)
    assert again["observations_unchanged"] == 4
    assert again["observations_created"] == again["observations_updated"] == 0
    assert row_counts(database_url) == before


def test_reimport_keeps_what_a_radiologist_completed(run: Any, tmp_path: Path,
                                                     database_url: str) -> None:
    folder = viewer_export(tmp_path / "export")
    assert run("import-sr", str(folder), "--compartment", "tendon").exit_code == 0
    doc = stored(run)
    deposit = next(le for le in doc["patients"][0]["lesions"] if le["id"] == DEPOSIT)
    deposit["entity"] = "hadd"
    deposit["site"]["structure"] = "supraspinatus"
    deposit["observations"][0].update(density="dense", margin="well_defined")
    completed = tmp_path / "completed.json"
    completed.write_text(json.dumps(doc))
    assert run("import", str(completed)).exit_code == 0
    with session_factory(database_url)() as s:
        lesion_id = s.scalar(select(Lesion.id).where(Lesion.external_id == DEPOSIT))
        assert lesion_id is not None
        record_treatment(s, lesion_id, TreatmentIn(date=date(2024, 2, 1), kind="lavage"),
                         actor="test")

    again = json.loads(run("import-sr", str(folder)).output)
    assert again["observations_updated"] == again["lesions_updated"] == 0
    deposit = next(le for le in stored(run)["patients"][0]["lesions"] if le["id"] == DEPOSIT)
    assert deposit["entity"] == "hadd" and deposit["site"]["structure"] == "supraspinatus"
    assert deposit["observations"][0]["density"] == "dense"
    with session_factory(database_url)() as s:
        kinds = s.scalars(select(Treatment.kind).join(Lesion)
                          .where(Lesion.external_id == DEPOSIT)).all()
    assert kinds == ["lavage"]


def test_one_unmappable_group_rejects_the_batch(run: Any, tmp_path: Path,
                                                database_url: str) -> None:
    folder = viewer_export(tmp_path / "export")
    write_sr(folder / "visit4.dcm", [
        Group(tracking_uid=DEPOSIT, measurements=[(LENGTH, 8.0, MM)]),
        Group(site=LUNG, tracking_uid=generate_uid()),
        Group(tracking_uid=generate_uid(), measurements=[(AREA, 40.0, MM2)])],
        study_date="20241010")
    before = row_counts(database_url)
    result = run("import-sr", str(folder), "--compartment", "tendon")
    assert result.exit_code == 2
    assert row_counts(database_url) == before
    lines = result.output.strip().splitlines()
    assert lines == [
        f"error: {folder / 'visit4.dcm'} planar ROI group 2: finding site \"Lung structure\""
        " (SCT 39607008) is not a region calcitrack follows (vocabulary.md region table)",
        f"error: {folder / 'visit4.dcm'} planar ROI group 3: has no linear measurement"
        " (Length, Diameter, Long/Short/Major/Minor Axis, Width); found only \"Area\""
        " (SCT 42798000)",
    ]


def test_compartment_is_asked_for_and_dry_run_writes_nothing(run: Any, tmp_path: Path,
                                                             database_url: str) -> None:
    folder = viewer_export(tmp_path / "export")
    result = run("import-sr", str(folder / "visit3.dcm"))
    assert result.exit_code == 2
    assert "visit3.dcm planar ROI group 1 (patients[0].lesions[0].site.compartment):" \
           f" lesion {DEPOSIT}: the compartment is not known" in result.output
    before = row_counts(database_url)
    dry = run("import-sr", str(folder / "visit3.dcm"), "--compartment", "soft_tissue",
              "--dry-run")
    assert dry.exit_code == 0
    doc = json.loads(dry.output)
    assert doc["patients"][0]["lesions"][0]["site"]["compartment"] == "soft_tissue"
    assert doc["patients"][0]["lesions"][0]["observations"][0]["size_mm"] == [9.0]
    assert row_counts(database_url) == before
