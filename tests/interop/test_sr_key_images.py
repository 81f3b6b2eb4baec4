"""What a report says of the images it was measured on: each observation keeps the image its
mark is drawn on (with the mark) or, without a mark, the image the group names; with the series
a PACS needs to fetch it."""

from __future__ import annotations

from pathlib import Path

from pydicom import dcmread

from testkit.dicom import LENGTH, MM
from tests.interop.sr_files import Group, write_sr
from tracker.interop.sr import SrInput, convert
from tracker.vocabulary import Compartment

UID = "1.2.826.0.1.3680043.8.498.5"


def test_a_marked_group_keeps_its_image_and_mark_and_a_plain_one_its_image(
        tmp_path: Path) -> None:
    path = write_sr(tmp_path / "r.dcm", [
        Group(tracking_uid=UID, measurements=[(LENGTH, 14.0, MM)]),
        Group(tracking_uid=UID + "1", tracking_id="other", kind="image",
              measurements=[(LENGTH, 9.0, MM)])], study_date="20240110")
    [image] = [e for e in dcmread(path).CurrentRequestedProcedureEvidenceSequence]
    series = image.ReferencedSeriesSequence[0]
    instance = series.ReferencedSOPSequence[0].ReferencedSOPInstanceUID

    converted = convert([SrInput("r.dcm", path)], compartment=Compartment.TENDON)

    [marked] = converted.key_images[("P-0001", UID, "2024-01-10")]
    assert (marked.study_uid, marked.series_uid, marked.sop_instance_uid) == (
        image.StudyInstanceUID, series.SeriesInstanceUID, instance)
    assert (marked.graphic_type, marked.points, marked.frame, marked.measured_mm) == (
        "POLYLINE", ((10.0, 10.0), (20.0, 20.0)), 0, 14.0)
    [plain] = converted.key_images[("P-0001", UID + "1", "2024-01-10")]
    assert plain.sop_instance_uid == instance and plain.graphic_type is None
    assert plain.points == () and plain.measured_mm == 9.0
    assert converted.subjects[("P-0001", UID)] == UID
