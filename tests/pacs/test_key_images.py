"""Key images: each visit's image from the PACS, rendered and scaled by the server, cached,
with the measurement drawn where it was made (pixels checked), shown on the lesion, compare and
report pages only through the lesion, and never an error when the PACS cannot give it."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from testkit.dicom import Deposit, graphic_data, radiograph
from testkit.orthanc import Orthanc
from tests.pacs.conftest import signed_in
from tests.pacs.visits import followed_patient, store_visit
from tests.web.conftest import Client
from tracker.db import session_factory
from tracker.pacs.client import PacsClient, PacsUnavailable
from tracker.pacs.models import KeyImage
from tracker.pacs.thumbnails import Thumbnails
from web import create_app

DEPOSIT = Deposit(column=300, row=200, half_width=40, half_height=25)


def key_image(image: Any, shape: str) -> KeyImage:
    ds = image.dataset
    return KeyImage(study_uid=str(ds.StudyInstanceUID), series_uid=str(ds.SeriesInstanceUID),
                    sop_instance_uid=str(ds.SOPInstanceUID), sop_class_uid=str(ds.SOPClassUID),
                    frame=0, graphic_type=shape.upper(),
                    graphic_data=graphic_data(image, shape).tolist())


def marked(png: bytes) -> np.ndarray:
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=int)
    return (rgb[..., 0] > 200) & (rgb[..., 1] > 150) & (rgb[..., 1] < 240) & (rgb[..., 2] < 90)


@pytest.mark.parametrize("shape", ["ellipse", "point"])
def test_the_mark_is_drawn_where_it_was_made(pacs: PacsClient, tmp_path: Path,
                                             shape: str) -> None:
    image = radiograph(deposit=DEPOSIT)
    pacs.store([image.dataset])
    png = Thumbnails(pacs, tmp_path / "cache", size_px=128).png(key_image(image, shape))
    mask = marked(png)
    assert mask.shape == (128, 128)  # a quarter of the 512 px radiograph
    ys, xs = np.nonzero(mask)
    if shape == "ellipse":
        # the outline through both ends of both axes: (260..340, 175..225) / 4
        for x, y in ((65, 50), (85, 50), (75, 44), (75, 56)):
            assert mask[y - 1:y + 2, x - 1:x + 2].any(), (x, y)
        assert not mask[48:53, 72:79].any()  # not filled
        assert (xs.min(), xs.max(), ys.min(), ys.max()) == pytest.approx((64, 86, 43, 57), abs=2)
    else:
        assert mask[50, 75] and mask[50, 70] and mask[45, 75]  # a cross at (300, 200) / 4
        assert (xs.max() - xs.min(), ys.max() - ys.min()) == pytest.approx((12, 12), abs=3)


def test_thumbnails_are_cached_and_bounded(own_orthanc: Orthanc, tmp_path: Path) -> None:
    images = [radiograph(deposit=DEPOSIT, seed=i) for i in range(3)]
    with PacsClient(own_orthanc.dicomweb_url, timeout_seconds=5) as pacs:
        pacs.store([i.dataset for i in images])
        cache = Thumbnails(pacs, tmp_path / "cache", max_files=2)
        first = cache.png(key_image(images[0], "polyline"))
        own_orthanc.stop()
        assert cache.png(key_image(images[0], "polyline")) == first  # from the cache
        with pytest.raises(PacsUnavailable):
            cache.png(key_image(images[1], "polyline"))
        own_orthanc.start()
        for image in images[1:]:
            cache.png(key_image(image, "polyline"))
    assert len(list((tmp_path / "cache").glob("*.png"))) == 2


@pytest.fixture
def two_visits(run: Any, pacs_env: Orthanc, pacs: PacsClient, database_url: str) -> int:
    """P-0001's deposit, measured in the viewer in April and July (the PACS's reports)."""
    followed_patient(database_url)
    store_visit(pacs, study_date="20240410", deposit=DEPOSIT)
    store_visit(pacs, study_date="20240710", shape="ellipse",
                deposit=Deposit(column=280, row=240, half_width=30, half_height=20))
    assert json.loads(run("pacs", "sync").output)["imported"] == 2
    record = json.loads(run("show", "P-0001", "--json").output)
    lesion_id: int = record["lesions"][0]["id"]
    return lesion_id


def thumbnails_of(page: str) -> list[str]:
    return re.findall(r'<img src="(/lesions/\d+/key-images/\d+\.png)"', page)


def test_compare_and_report_show_the_two_visits_images(two_visits: int, web: Any) -> None:
    clinician = web("clinician")
    lesion_page = clinician.get(f"/lesions/{two_visits}").text
    assert len(thumbnails_of(lesion_page)) == 2  # April and July (January has no report)
    compare = clinician.get(f"/lesions/{two_visits}/compare")
    assert compare.status_code == 200
    shown = thumbnails_of(compare.text)
    assert len(shown) == 2 and 'alt="Key image of 2024-04-10 (XR, measured 16 mm' in compare.text
    assert all(clinician.get(src).status_code == 200 for src in shown)
    report = clinician.get("/patients/P-0001/report").text
    assert report.count('src="data:image/png;base64,') == 2
    assert "image unavailable" not in report


def test_a_key_image_is_shown_only_through_its_lesion(two_visits: int, web: Any,
                                                      database_url: str) -> None:
    clinician = web("clinician")
    src = thumbnails_of(clinician.get(f"/lesions/{two_visits}").text)[0]
    image_id = src.rsplit("/", 1)[1].removesuffix(".png")
    assert clinician.get(f"/lesions/{two_visits + 1}/key-images/{image_id}.png").status_code == 404
    anonymous = web(None)  # type: ignore[arg-type]
    assert anonymous.get(src).status_code == 302  # to the sign-in page


def test_a_pacs_outage_leaves_the_pages_working(run: Any, own_orthanc: Orthanc,
                                                database_url: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DICOMWEB_URL", own_orthanc.dicomweb_url)
    monkeypatch.setenv("DICOMWEB_TIMEOUT_SECONDS", "5")
    followed_patient(database_url)
    with PacsClient(own_orthanc.dicomweb_url) as pacs:
        store_visit(pacs, study_date="20240410", deposit=DEPOSIT)
        store_visit(pacs, study_date="20240710", deposit=DEPOSIT)
    assert json.loads(run("pacs", "sync").output)["imported"] == 2
    lesion_id = json.loads(run("show", "P-0001", "--json").output)["lesions"][0]["id"]
    clinician = signed_in(database_url)("clinician")
    first, second = thumbnails_of(clinician.get(f"/lesions/{lesion_id}").text)
    assert clinician.get(first).status_code == 200  # now in the cache

    own_orthanc.clear()  # the images are gone from the PACS: refused, not unavailable
    assert clinician.get(second).status_code == 404
    own_orthanc.stop()
    page = clinician.get(f"/lesions/{lesion_id}")
    assert page.status_code == 200 and len(thumbnails_of(page.text)) == 2
    assert clinician.get(first).status_code == 200  # the cache still has it
    down = clinician.get(second)
    assert down.status_code == 503 and down.text == "image unavailable"
    report = clinician.get("/patients/P-0001/report")
    assert report.status_code == 200 and report.text.count("image unavailable") == 1
    assert report.text.count('src="data:image/png;base64,') == 1


def test_without_a_pacs_no_key_images_are_shown(two_visits: int, web: Any, database_url: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DICOMWEB_URL")  # the same stored key images, another app
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                      "SESSION_COOKIE_SECURE": False})
    clinician = Client(app.test_client(), "clinician")
    page = clinician.get(f"/lesions/{two_visits}")
    assert page.status_code == 200 and "Key images" not in page.text
    with session_factory(database_url)() as s:
        image_id = s.scalar(select(KeyImage.id))
    assert clinician.get(f"/lesions/{two_visits}/key-images/{image_id}.png").status_code == 404
    assert "image unavailable" not in clinician.get("/patients/P-0001/report").text

