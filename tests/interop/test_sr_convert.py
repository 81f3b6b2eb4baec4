"""DICOM SR measurement reports, built with highdicom, become one lesion-timeline/1 document."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydicom.uid import generate_uid

from testkit.dicom import (
    AREA,
    CIRCUMSCRIBED,
    CM,
    HIGH_DENSITY,
    KNEE,
    LEFT_SRT,
    LENGTH,
    LONG_AXIS_SRT,
    LUMBAR,
    LUNG,
    MM,
    MM2,
    PIXELS,
    SHORT_AXIS,
    SHOULDER_SRT,
    UM,
)
from tests.interop.dcmjs_sr import write_dcmjs_sr
from tests.interop.sr_files import Group, drop_tracking_uids, write_sr
from tracker.errors import InvalidInput
from tracker.interop.sr import Compartment, SrInput, collect_paths, convert
from tracker.timeline.reader import validate_timeline

DEPOSIT = generate_uid()


def follow_up(tmp_path: Path) -> list[SrInput]:
    """Right shoulder deposit measured three times (CT, then radiographs), a left knee lesion
    next to it on the second visit, in mm and cm, SCT and legacy SRT codes."""
    first = write_sr(tmp_path / "a.dcm", [Group(
        tracking_uid=DEPOSIT, measurements=[(LENGTH, 14.0, MM), (SHORT_AXIS, 0.8, CM)],
        qualitative=[(LENGTH, HIGH_DENSITY), (LENGTH, CIRCUMSCRIBED)])],
        study_date="20240110", accession="ACC-1")
    second = write_sr(tmp_path / "b.dcm", [
        Group(site=SHOULDER_SRT, tracking_uid=DEPOSIT,
              measurements=[(LONG_AXIS_SRT, 1.2, CM), (AREA, 60.0, MM2)]),
        Group(site=KNEE, laterality=LEFT_SRT, tracking_uid=None, tracking_id="Knee 1",
              measurements=[(LENGTH, 6.5, MM)])],
        study_date="20240412", modality="DX", accession="ACC-2")
    third = write_sr(tmp_path / "c.dcm", [Group(
        tracking_uid=DEPOSIT, measurements=[(LENGTH, 9.0, MM)])], study_date="20240715",
        modality="US", accession="")
    return [SrInput(p.name, p) for p in (first, second, third)]


def test_follow_up_becomes_one_patient_with_two_lesions(tmp_path: Path) -> None:
    converted = convert(follow_up(tmp_path), compartment=Compartment.TENDON)
    doc = converted.document
    validate_timeline(doc, today=date(2025, 1, 1))  # the import's own validation accepts it
    [patient] = doc["patients"]
    assert patient["id"] == "P-0001" and patient["birth_year"] == 1968 and patient["sex"] == "F"
    lesions = {le["id"]: le for le in patient["lesions"]}
    deposit = lesions[DEPOSIT]
    assert deposit["site"] == {"compartment": "tendon", "region": "shoulder",
                               "laterality": "right"}
    obs = deposit["observations"]
    assert [o["date"] for o in obs] == ["2024-01-10", "2024-04-12", "2024-07-15"]
    assert [o["modality"] for o in obs] == ["CT", "XR", "US"]
    assert obs[0]["size_mm"] == [14.0, 8.0]          # 0.8 cm short axis, longest first
    assert obs[0]["density"] == "dense" and obs[0]["margin"] == "well_defined"
    assert obs[0]["accession"] == "ACC-1" and obs[0]["study_uid"]
    assert obs[1]["size_mm"] == [12.0]               # SRT long axis in cm; area ignored
    assert "density" not in obs[1] and "margin" not in obs[1]   # not assessed
    assert "accession" not in obs[2]
    [knee] = [le for le in patient["lesions"] if le["id"] != DEPOSIT]
    assert knee["site"] == {"compartment": "tendon", "region": "knee", "laterality": "left"}
    assert knee["observations"][0]["size_mm"] == [6.5]


def test_unmappable_items_are_named_per_file_and_group(tmp_path: Path) -> None:
    files = follow_up(tmp_path)
    bad = write_sr(tmp_path / "bad.dcm", [
        Group(site=LUNG, tracking_uid=generate_uid()),
        Group(tracking_uid=generate_uid(), measurements=[(AREA, 40.0, MM2)]),
        Group(tracking_uid=generate_uid(), measurements=[(LENGTH, 30.0, PIXELS)]),
    ])
    with pytest.raises(InvalidInput) as exc:
        convert([*files, SrInput("bad.dcm", bad)], compartment=Compartment.TENDON)
    problems = {p.path: p.message for p in exc.value.problems}
    assert problems == {
        "bad.dcm planar ROI group 1": 'finding site "Lung structure" (SCT 39607008) is not a'
                                      " region calcitrack follows (vocabulary.md region table)",
        "bad.dcm planar ROI group 2": "has no linear measurement (Length, Diameter,"
                                      " Long/Short/Major/Minor Axis, Width); found only"
                                      ' "Area" (SCT 42798000)',
        "bad.dcm planar ROI group 3": '"Length" (SCT 410668003) has unit "pixels" (UCUM'
                                      " {pixels}), not a UCUM length unit (mm, cm, um, m)",
    }


def test_missing_patient_id_and_laterality_are_problems(tmp_path: Path) -> None:
    no_id = write_sr(tmp_path / "noid.dcm", [Group(tracking_uid=generate_uid())], patient_id="")
    no_side = write_sr(tmp_path / "noside.dcm", [Group(laterality=None)])
    spine = write_sr(tmp_path / "spine.dcm", [Group(site=LUMBAR, laterality=None)])
    with pytest.raises(InvalidInput) as exc:
        convert([SrInput("noid.dcm", no_id), SrInput("noside.dcm", no_side)])
    messages = [str(p) for p in exc.value.problems]
    assert messages == [
        "noid.dcm: has no PatientID",
        'noside.dcm planar ROI group 1: finding site "Shoulder region structure"'
        " (SCT 16982005) has no laterality (right or left is needed outside the spine, neck,"
        " trunk and pelvis)",
    ]
    # the spine needs no laterality and names its own compartment
    doc = convert([SrInput("spine.dcm", spine)]).document
    assert doc["patients"][0]["lesions"][0]["site"] == {
        "compartment": "spine", "region": "lumbar_spine", "laterality": "midline"}


def test_folders_keep_sr_files_and_skip_others(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    follow_up(folder)
    (folder / "README.txt").write_text("not dicom")
    files, skipped, problems = collect_paths([folder, tmp_path / "missing"])
    assert [Path(f.name).name for f in files] == ["a.dcm", "b.dcm", "c.dcm"]
    assert [Path(s).name for s in skipped] == ["README.txt"]
    assert [p.message for p in problems] == ["no such file or folder"]


def test_a_file_that_is_not_dicom_is_named(tmp_path: Path) -> None:
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"hello")
    with pytest.raises(InvalidInput) as exc:
        convert([SrInput("junk.dcm", junk)])
    assert exc.value.problems[0].path == "junk.dcm"
    assert exc.value.problems[0].message.startswith("is not a DICOM")


def test_without_tracking_uid_the_identifier_and_site_name_the_lesion(tmp_path: Path) -> None:
    path = drop_tracking_uids(write_sr(tmp_path / "old.dcm", [
        Group(site=KNEE, laterality=LEFT_SRT, tracking_id="Knee 1")]))
    doc = convert([SrInput("old.dcm", path)], compartment=Compartment.TENDON).document
    assert [le["id"] for le in doc["patients"][0]["lesions"]] == ["Knee-1.left-knee"]


def test_image_measurement_groups_are_read_like_planar_ones(tmp_path: Path) -> None:
    """TID 1501 groups (no region) reference their images directly: US gives the modality."""
    path = write_sr(tmp_path / "us.dcm", [Group(kind="image", tracking_uid=DEPOSIT,
                                                 measurements=[(LENGTH, 0.95, CM)])],
                    modality="US")
    doc = convert([SrInput("us.dcm", path)], compartment=Compartment.TENDON).document
    [obs] = doc["patients"][0]["lesions"][0]["observations"]
    assert (obs["modality"], obs["size_mm"]) == ("US", [9.5])


def test_two_groups_of_one_lesion_keep_equal_sizes(tmp_path: Path) -> None:
    path = write_sr(tmp_path / "two.dcm", [
        Group(tracking_uid=DEPOSIT, measurements=[(LENGTH, 10.0, MM)]),
        Group(tracking_uid=DEPOSIT, measurements=[(LENGTH, 1.0, CM)])])
    doc = convert([SrInput("two.dcm", path)], compartment=Compartment.TENDON).document
    [obs] = doc["patients"][0]["lesions"][0]["observations"]
    assert obs["size_mm"] == [10.0, 10.0]


def test_a_group_measured_on_a_prior_study_has_that_studys_date(tmp_path: Path) -> None:
    """The June report re-measures the deposit on January's images: two visits, each with its
    own study; January's date is in the report's image library (TID 1602 Study Date)."""
    path = write_sr(tmp_path / "june.dcm", [
        Group(tracking_uid=DEPOSIT, measurements=[(LENGTH, 14.0, MM)], on_prior=True),
        Group(tracking_uid=DEPOSIT, measurements=[(LENGTH, 9.0, MM)])],
        study_date="20240601", prior_date="20240110", accession="ACC-6", library=True)
    doc = convert([SrInput("june.dcm", path)], compartment=Compartment.TENDON).document
    validate_timeline(doc, today=date(2025, 1, 1))
    january, june = doc["patients"][0]["lesions"][0]["observations"]
    assert (january["date"], january["size_mm"], june["date"], june["size_mm"]) == (
        "2024-01-10", [14.0], "2024-06-01", [9.0])
    assert january["study_uid"] != june["study_uid"]
    assert "accession" not in january and june["accession"] == "ACC-6"


def test_a_prior_study_without_its_date_is_refused(tmp_path: Path) -> None:
    path = write_sr(tmp_path / "june.dcm", [Group(tracking_uid=DEPOSIT, on_prior=True),
                                            Group(tracking_uid=DEPOSIT)],
                    study_date="20240601", prior_date="20240110")
    with pytest.raises(InvalidInput) as exc:
        convert([SrInput("june.dcm", path)], compartment=Compartment.TENDON)
    [problem] = exc.value.problems
    assert problem.path == "june.dcm planar ROI group 1"
    assert problem.message.startswith("measures study ")
    assert problem.message.endswith(", not this report's own study, and the report does not say"
                                    " when it was taken (no Study Date in the image library entry"
                                    " of its images)")


def test_a_dcmjs_report_is_refused_in_one_line(tmp_path: Path) -> None:
    path = write_dcmjs_sr(tmp_path / "cornerstone.dcm")
    with pytest.raises(InvalidInput) as exc:
        convert([SrInput("cornerstone.dcm", path)], compartment=Compartment.TENDON)
    assert [str(p) for p in exc.value.problems] == [
        "cornerstone.dcm: is not a TID 1500 measurement report that can be read (written by"
        ' dcmjs): a NUM content item lacks its MeasuredValueSequence (concept "Length")']
    # without the open polyline, the next thing dcmjs leaves out is named just as plainly
    plain = write_dcmjs_sr(tmp_path / "length-only.dcm", polyline=False)
    with pytest.raises(InvalidInput) as exc:
        convert([SrInput("length-only.dcm", plain)], compartment=Compartment.TENDON)
    assert [str(p) for p in exc.value.problems] == ["length-only.dcm: has no PatientID"]


@pytest.mark.parametrize(("value", "unit", "message"), [
    (4.0, UM, '"Length" (SCT 410668003) is 4 um (0.004 mm), below the smallest size kept'
              " (0.01 mm; a size must be above 0 mm)"),
    (0.0, MM, '"Length" (SCT 410668003) is 0 mm; a size must be above 0 mm'),
    (60.0, CM, '"Length" (SCT 410668003) is 60 cm (600 mm); a size must be at most 500 mm'),
])
def test_a_size_out_of_range_names_the_value_and_the_limit(
        tmp_path: Path, value: float, unit: Any, message: str) -> None:
    path = write_sr(tmp_path / "tiny.dcm", [Group(measurements=[(LENGTH, value, unit)])])
    with pytest.raises(InvalidInput) as exc:
        convert([SrInput("tiny.dcm", path)], compartment=Compartment.TENDON)
    assert [(p.path, p.message) for p in exc.value.problems] == [
        ("tiny.dcm planar ROI group 1", message)]
