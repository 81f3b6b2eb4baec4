"""The DICOMweb client against a real Orthanc: synthetic radiographs and the measurement
reports made on them go in with STOW-RS and come back through QIDO-RS and WADO-RS."""

from __future__ import annotations

import copy
import io
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmwrite
from pydicom.dataset import Dataset
from pydicom.uid import BasicTextSRStorage, generate_uid

from testkit.dicom import (
    EQUAL_DENSITY,
    INDISTINCT,
    Deposit,
    Finding,
    measurement_report,
    radiograph,
)
from testkit.orthanc import Orthanc
from tests.pacs.conftest import start_orthanc
from tracker.errors import ServiceUnavailable
from tracker.interop.sr import Compartment, SrInput, convert
from tracker.pacs.client import InstanceRef, PacsClient, PacsRefused, PacsUnavailable


def ref_of(ds: Dataset) -> InstanceRef:
    return InstanceRef(str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID),
                       str(ds.SOPInstanceUID), str(ds.SOPClassUID))


def as_bytes(ds: Dataset) -> bytes:
    out = io.BytesIO()
    dcmwrite(out, ds)
    return out.getvalue()


def test_search_finds_the_reports_written_since_a_date_and_nothing_else(
        pacs: PacsClient) -> None:
    """Three reports, one per TID 1500 storage class, written in January, March and June; the
    images they measure; and a plain-text SR written in June."""
    january, march = radiograph(study_date="20240110"), radiograph(study_date="20240304")
    reports = [measurement_report([Finding(january)], sr_class="enhanced",
                                  written=date(2024, 1, 12)),
               measurement_report([Finding(march)], sr_class="comprehensive",
                                  written=date(2024, 3, 5)),
               measurement_report([Finding(january, shape="point")],
                                  sr_class="comprehensive3d", written=date(2024, 6, 2))]
    text_sr = copy.deepcopy(reports[2])
    text_sr.SOPClassUID = BasicTextSRStorage
    text_sr.SOPInstanceUID = text_sr.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    text_sr.file_meta.MediaStorageSOPClassUID = BasicTextSRStorage
    stored = pacs.store([january.dataset, march.dataset, *reports, text_sr])
    assert len(stored.stored) == 6 and stored.failed == ()

    found = pacs.search_reports(date(2024, 3, 1), page_size=1)  # one per page: every page read

    assert sorted(r.sop_instance_uid for r in found) == sorted(
        str(r.SOPInstanceUID) for r in reports[1:])
    by_uid = {r.sop_instance_uid: r for r in found}
    june = by_uid[str(reports[2].SOPInstanceUID)]
    assert june == InstanceRef(
        str(january.dataset.StudyInstanceUID), str(reports[2].SeriesInstanceUID),
        str(reports[2].SOPInstanceUID), "1.2.840.10008.5.1.4.1.1.88.34", date(2024, 6, 2))
    assert len(pacs.search_reports(date(2024, 1, 1))) == 3
    assert pacs.search_reports(date(2024, 6, 3)) == []


def test_a_retrieved_report_becomes_the_expected_timeline(pacs: PacsClient) -> None:
    image = radiograph(patient_id="P-0042", study_date="20240412", accession="ACC-7",
                       deposit=Deposit(column=250, row=260, half_width=20, half_height=35))
    report = measurement_report([Finding(image, shape="ellipse", tracking_uid="1.2.3.4.5",
                                         evaluations=[EQUAL_DENSITY, INDISTINCT])])
    pacs.store([image.dataset, report])
    [found] = pacs.search_reports(date(2024, 1, 1))

    dataset = pacs.retrieve(found)

    converted = convert([SrInput("pacs", as_bytes(dataset))], compartment=Compartment.TENDON)
    [patient] = converted.document["patients"]
    assert patient["id"] == "P-0042"
    [lesion] = patient["lesions"]
    assert lesion["id"] == "1.2.3.4.5"
    assert lesion["site"] == {"compartment": "tendon", "region": "shoulder",
                              "laterality": "right"}
    assert lesion["observations"] == [{
        "date": "2024-04-12", "modality": "XR", "size_mm": [14.0], "density": "moderate",
        "margin": "ill_defined", "study_uid": str(image.dataset.StudyInstanceUID),
        "accession": "ACC-7"}]


def test_the_rendered_image_is_a_thumbnail_with_the_deposit_where_it_was_drawn(
        pacs: PacsClient) -> None:
    image = radiograph(deposit=Deposit(column=360, row=120, half_width=48, half_height=28))
    pacs.store([image.dataset])

    rendered = pacs.rendered(ref_of(image.dataset), size_px=128)

    png = Image.open(io.BytesIO(rendered.png))
    assert png.format == "PNG" and png.size == (128, 128) == (rendered.width, rendered.height)
    assert rendered.scale == 0.25
    pixels = np.asarray(png.convert("L"), dtype=int)
    deposit = pixels[120 // 4 - 3:120 // 4 + 4, 360 // 4 - 6:360 // 4 + 7]
    assert deposit.min() > 180                       # bright: the calcium
    assert pixels[100:128, 0:40].max() < 110          # soft tissue far from it
    assert pixels[120 // 4, 360 // 4 + 16] < 110      # just past its end along the long axis


def test_basic_auth_is_sent(tmp_path: Path) -> None:
    server = start_orthanc(tmp_path, users={"calcitrack": "s3cret"})
    try:
        with PacsClient(server.dicomweb_url, username="calcitrack", password="s3cret") as ok:
            assert ok.search_reports(date(2024, 1, 1)) == []
        for client in (PacsClient(server.dicomweb_url),
                       PacsClient(server.dicomweb_url, username="calcitrack", password="no"),
                       PacsClient(server.dicomweb_url, token="a-token")):
            with client, pytest.raises(PacsRefused) as refused:
                client.search_reports(date(2024, 1, 1))
            assert refused.value.status == 401
            assert "DICOMWEB_USERNAME" in str(refused.value)
        assert PacsClient(server.dicomweb_url, token="a-token").session.headers[
            "Authorization"] == "Bearer a-token"
    finally:
        server.stop()


def test_an_unknown_instance_is_refused_not_unavailable(pacs: PacsClient) -> None:
    image = radiograph()
    pacs.store([image.dataset])
    missing = InstanceRef(str(image.dataset.StudyInstanceUID),
                          str(image.dataset.SeriesInstanceUID), generate_uid())
    with pytest.raises(PacsRefused) as refused:
        pacs.retrieve(missing)
    assert refused.value.status == 404


def test_a_stopped_pacs_is_unavailable(own_orthanc: Orthanc) -> None:
    client = PacsClient(own_orthanc.dicomweb_url, username="u", password="pw-not-shown",
                        timeout_seconds=5)
    own_orthanc.stop()
    for call in (lambda: client.search_reports(date(2024, 1, 1)),
                 lambda: client.store([radiograph().dataset]),
                 lambda: client.rendered(InstanceRef("1.2", "1.2.3", "1.2.3.4"))):
        with pytest.raises(PacsUnavailable) as down:
            call()
        assert isinstance(down.value, ServiceUnavailable)   # the CLI's exit 3
        assert "cannot be reached" in str(down.value)
        assert own_orthanc.dicomweb_url in str(down.value)
        assert "pw-not-shown" not in str(down.value)


def test_a_hung_pacs_times_out(own_orthanc: Orthanc) -> None:
    """The server accepts the connection and never answers (frozen): the client gives up
    after its timeout instead of waiting for ever."""
    client = PacsClient(own_orthanc.dicomweb_url, timeout_seconds=0.5)
    own_orthanc.pause()
    try:
        with pytest.raises(PacsUnavailable) as slow:
            answered = client.search_reports(date(2024, 1, 1))
            # seen once in ~15 suite runs, cause not found: say who answered, if anyone does
            pytest.fail(f"a frozen PACS answered {answered!r} (pid {own_orthanc.process.pid}, "
                        f"port {own_orthanc.port}, {own_orthanc.who_listens()})")
        assert "did not answer within 0.5 s" in str(slow.value)
    finally:
        own_orthanc.resume()
    assert client.search_reports(date(2024, 1, 1)) == []   # back: it answers again
