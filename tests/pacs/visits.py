"""What the PACS tests put in Orthanc and calcitrack: a radiograph with its measurement report
(a viewer's TID 1500 SR written today), and a patient calcitrack already follows."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydicom.dataset import Dataset
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from testkit.dicom import Deposit, Finding, Radiograph, measurement_report, radiograph
from tracker.db import session_factory
from tracker.pacs.client import PacsClient
from tracker.services.imports import import_timeline
from tracker.timeline.reader import validate_timeline

LESION_UID = "1.2.826.0.1.3680043.8.498.4242"  # the viewer's tracking UID of the deposit


def store_visit(pacs: PacsClient, *, patient: str = "P-0001", study_date: str = "20240410",
                deposit: Deposit | None = None, shape: str = "polyline",
                tracking_uid: str | None = LESION_UID, **finding: Any,
                ) -> tuple[Radiograph, Dataset]:
    """A radiograph and the report a reader saved on it today, stored in the PACS."""
    image = radiograph(patient_id=patient, study_date=study_date, deposit=deposit,
                       accession=f"ACC{study_date}")
    report = measurement_report([Finding(image, shape=shape, tracking_uid=tracking_uid,
                                         **finding)], written=date.today())
    stored = pacs.store([image.dataset, report])
    assert stored.failed == () and len(stored.stored) == 2, stored
    return image, report


def followed_patient(url: str, lesion: str = LESION_UID) -> None:
    """P-0001 with a right shoulder deposit (the viewer's tracking UID as its id), recorded
    in January: what the PACS reports of later visits add to."""
    timeline = {"format": "lesion-timeline/1", "patients": [{
        "id": "P-0001", "birth_year": 1968, "sex": "F", "lesions": [{
            "id": lesion, "entity": "hadd",
            "site": {"compartment": "tendon", "region": "shoulder", "laterality": "right",
                     "structure": "supraspinatus"},
            "observations": [{"date": "2024-01-10", "modality": "XR", "size_mm": [20.0],
                              "density": "dense", "margin": "well_defined"}]}]}]}
    with session_factory(url)() as session:
        import_timeline(session, validate_timeline(timeline, today=date.today()), actor="test")


def count(session: Session, model: Any, *where: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def is_mark(pixel: tuple[int, ...]) -> bool:
    """Whether a thumbnail pixel is the amber of a drawn measurement (a radiograph is grey)."""
    r, g, b = pixel[:3]
    return r > 200 and 150 < g < 240 and b < 90
