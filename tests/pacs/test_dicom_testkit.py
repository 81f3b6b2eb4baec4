"""The synthetic reports are what a viewer saves: the SR importer reads every storage class and
every mark, and highdicom finds the mark's points on the radiograph it was drawn on."""

from __future__ import annotations

import io
from datetime import date

import highdicom as hd
import numpy as np
import pytest
from pydicom import dcmwrite

from testkit.dicom import KNEE, LEFT, SR_CLASSES, Deposit, Finding, measurement_report, radiograph
from tracker.interop.sr import Compartment, SrInput, convert
from tracker.timeline.reader import validate_timeline


@pytest.mark.parametrize("sr_class", sorted(SR_CLASSES))
@pytest.mark.parametrize("shape", ["polyline", "ellipse", "point"])
def test_every_class_and_mark_converts(sr_class: str, shape: str) -> None:
    image = radiograph(deposit=Deposit(column=200, row=300, half_width=15, half_height=30))
    report = measurement_report([Finding(image, shape=shape, tracking_uid="1.2.9")],
                                sr_class=sr_class)
    data = io.BytesIO()
    dcmwrite(data, report)

    doc = convert([SrInput("r.dcm", data.getvalue())], compartment=Compartment.TENDON).document

    validate_timeline(doc, today=date(2025, 1, 1))
    [obs] = doc["patients"][0]["lesions"][0]["observations"]
    assert obs["size_mm"] == [12.0] and obs["modality"] == "XR"   # 2 x 30 px x 0.2 mm
    parsed = hd.sr.srread(io.BytesIO(data.getvalue()))
    [group] = parsed.content.get_planar_roi_measurement_groups()
    assert group.roi.graphic_type.value == shape.upper()
    points = {"polyline": [[200, 270], [200, 330]],
              "ellipse": [[200, 270], [200, 330], [185, 300], [215, 300]],
              "point": [[200, 300]]}[shape]
    np.testing.assert_array_equal(group.roi.value, points)
    [source] = group.roi.ContentSequence[0].ReferencedSOPSequence
    assert source.ReferencedSOPInstanceUID == image.dataset.SOPInstanceUID


def test_pixels_show_the_deposit_where_the_mark_is() -> None:
    image = radiograph(deposit=Deposit(column=100, row=400, half_width=30, half_height=10))
    pixels = image.dataset.pixel_array
    assert pixels.shape == (512, 512) and pixels.dtype == np.uint16
    assert pixels[400, 100] > 3000 and pixels[400, 129] > 3000    # inside, near the end
    assert pixels[400, 135] < 1500 and pixels[412, 100] < 1500    # just outside
    assert image.length_mm == 12.0


def test_two_lesions_of_two_images_in_one_report() -> None:
    shoulder = radiograph(patient_id="P-7")
    knee = radiograph(patient_id="P-7", study_uid=str(shoulder.dataset.StudyInstanceUID))
    report = measurement_report([Finding(shoulder, tracking_uid="1.2.10"),
                                 Finding(knee, site=KNEE, laterality=LEFT,
                                         tracking_uid="1.2.11")])
    data = io.BytesIO()
    dcmwrite(data, report)
    doc = convert([SrInput("r.dcm", data.getvalue())], compartment=Compartment.TENDON).document
    sites = {le["id"]: le["site"]["region"] for le in doc["patients"][0]["lesions"]}
    assert sites == {"1.2.10": "shoulder", "1.2.11": "knee"}
