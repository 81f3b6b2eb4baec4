"""The SR calcitrack writes back to the PACS: its reading of one visit of one lesion.

Pure: a Reading (the stored assessment, plain values) and the header of the report it was
measured in go in, a pydicom Dataset comes out; no database, no network. The caller stores it
with `PacsClient.store`.

The document is a TID 1500 measurement report (Comprehensive SR, built with highdicom) in the
source report's study, with one measurement group for the lesion:
- the lesion's Tracking Identifier and, where the lesion id is a UID (read from a report), the
  same Tracking Unique Identifier, so a viewer sees both reports as one lesion;
- its finding site (SNOMED CT region and laterality);
- the key image it was measured on: the region (SCOORD) when known, else the images as the
  group's source images; the source report and the images as evidence;
- the stage as a qualitative evaluation coded in `99CALCITRACK` (tracker.pacs.coding), the
  stage confidence as a measurement (UCUM `{ratio}`, 0-1), the next follow-up imaging date as
  a DATE item, and the engine as the group's algorithm (name and version).
UIDs are derived from the lesion, the visit and the assessment version (data and engine version,
stage): one assessment version, one SR (storing it again changes nothing); a new version is a
new instance of the same series.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from tracker.pacs import coding
from tracker.pacs.client import InstanceRef
from tracker.vocabulary import Laterality, Region, Stage

SERIES_NUMBER = 9900
SERIES_DESCRIPTION = "calcitrack readings"


@dataclass(frozen=True)
class Mark:
    """Where the measurement was drawn: SCOORD graphic type and (column, row) points on the
    key image (and its frame, for a multi-frame image)."""

    image: InstanceRef
    graphic_type: str  # POINT, POLYLINE, ELLIPSE, CIRCLE, MULTIPOINT
    points: tuple[tuple[float, float], ...]
    frame: int | None = None


@dataclass(frozen=True)
class Reading:
    """calcitrack's stored assessment of one visit of one lesion."""

    patient_id: str
    lesion_id: str
    region: Region
    laterality: Laterality
    visit: date
    stage: Stage
    confidence: float  # 0-1
    next_follow_up: date | None
    engine_version: str
    version: int  # the lesion's data version the assessment saw
    assessed_at: datetime


def report_uids(reading: Reading, study_uid: str) -> tuple[str, str]:
    """(SeriesInstanceUID, SOPInstanceUID): one calcitrack series per study, one instance per
    lesion, visit and assessment version (the data version, the engine version and the stage:
    a stage that changes with time alone, on the same data, is another reading)."""
    series = coding.derived_uid("readings", study_uid)
    instance = coding.derived_uid("reading", reading.patient_id, reading.lesion_id,
                                  reading.visit.isoformat(), str(reading.version),
                                  reading.engine_version, reading.stage.value)
    return series, instance


def _tracking(reading: Reading) -> hd.sr.TrackingIdentifier:
    uid = reading.lesion_id if coding.is_uid(reading.lesion_id) else coding.derived_uid(
        "lesion", reading.patient_id, reading.lesion_id)
    return hd.sr.TrackingIdentifier(uid=uid, identifier=reading.lesion_id)


def _reference(ref: InstanceRef) -> Dataset:
    """What highdicom needs of an instance to list it as evidence."""
    ds = Dataset()
    ds.StudyInstanceUID = ref.study_uid
    ds.SeriesInstanceUID = ref.series_uid
    ds.SOPInstanceUID = ref.sop_instance_uid
    ds.SOPClassUID = ref.sop_class_uid
    return ds


def _procedure(source: Dataset) -> Code | hd.sr.CodedConcept:
    """The source report's Procedure Reported (DCM 121058), else "Imaging"."""
    for item in source.get("ContentSequence", []):
        name = item.get("ConceptNameCodeSequence")
        if name and name[0].CodeValue == "121058" and item.get("ConceptCodeSequence"):
            return hd.sr.CodedConcept.from_dataset(item.ConceptCodeSequence[0])
    return coding.IMAGING


def _frames(frame: int | None) -> list[int] | None:
    return None if frame is None else [frame]


def _group(reading: Reading, images: Sequence[InstanceRef],
           mark: Mark | None) -> hd.sr.MeasurementsAndQualitativeEvaluations | \
        hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations:
    common = {
        "tracking_identifier": _tracking(reading),
        "finding_type": coding.LESION,
        "finding_sites": [hd.sr.FindingSite(
            anatomic_location=coding.region_code(reading.region),
            laterality=coding.laterality_code(reading.laterality))],
        "algorithm_id": hd.sr.AlgorithmIdentification(
            name="calcitrack stage engine", version=reading.engine_version),
        "measurements": [hd.sr.Measurement(name=coding.CONFIDENCE,
                                           value=round(reading.confidence, 4),
                                           unit=coding.RATIO)],
        "qualitative_evaluations": [hd.sr.QualitativeEvaluation(
            name=coding.STAGE, value=coding.stage_code(reading.stage))],
    }
    group: hd.sr.MeasurementsAndQualitativeEvaluations | \
        hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations
    if mark is not None:
        region = hd.sr.ImageRegion(
            graphic_type=mark.graphic_type,
            graphic_data=np.array(mark.points, dtype=float),
            source_image=hd.sr.SourceImageForRegion(
                referenced_sop_class_uid=mark.image.sop_class_uid,
                referenced_sop_instance_uid=mark.image.sop_instance_uid,
                referenced_frame_numbers=_frames(mark.frame)))
        group = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            referenced_region=region, **common)  # type: ignore[arg-type]
    else:
        group = hd.sr.MeasurementsAndQualitativeEvaluations(
            source_images=[hd.sr.SourceImageForMeasurementGroup(
                referenced_sop_class_uid=ref.sop_class_uid,
                referenced_sop_instance_uid=ref.sop_instance_uid) for ref in images] or None,
            **common)  # type: ignore[arg-type]
    if reading.next_follow_up is not None:
        group[0].ContentSequence.append(hd.sr.DateContentItem(
            name=coding.NEXT_FOLLOW_UP, value=reading.next_follow_up,
            relationship_type=hd.sr.RelationshipTypeValues.CONTAINS))
    return group


def write_back_report(source: Dataset, reading: Reading, images: Sequence[InstanceRef] = (),
                      mark: Mark | None = None) -> Dataset:
    """The SR of `reading`, in the study of `source` (the report the visit was read from, whose
    patient and study attributes it takes), referencing `source` and the key `images`."""
    keys = [*images, *([mark.image] if mark and mark.image not in images else [])]
    evidence = [source, *(_reference(ref) for ref in keys)]
    context = hd.sr.ObservationContext(
        observer_person_context=None,
        observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid=coding.derived_uid("device"), name="calcitrack",
                manufacturer_name="calcitrack", model_name="calcitrack",
                serial_number=reading.engine_version)))
    report = hd.sr.MeasurementReport(
        observation_context=context, procedure_reported=_procedure(source),
        imaging_measurements=[_group(reading, images, mark)])
    series_uid, instance_uid = report_uids(reading, str(source.StudyInstanceUID))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # highdicom's notes on optional attributes
        sr = hd.sr.ComprehensiveSR(
            evidence=evidence, content=report, series_instance_uid=series_uid,
            series_number=SERIES_NUMBER, sop_instance_uid=instance_uid,
            instance_number=reading.version, manufacturer="calcitrack",
            series_description=SERIES_DESCRIPTION, is_complete=True,
            content_date=reading.assessed_at.date(),
            content_time=reading.assessed_at.time().replace(microsecond=0))
    sr.CodingSchemeIdentificationSequence = [coding.coding_scheme_identification()]
    return sr
