"""Build DICOM SR measurement reports (TID 1500) with highdicom, as a viewer would save them."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import (
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    UltrasoundImageStorage,
    generate_uid,
)

from testkit.dicom import LENGTH, MM, RIGHT, SHOULDER

SOP_OF = {"CT": CTImageStorage, "DX": DigitalXRayImageStorageForPresentation,
          "US": UltrasoundImageStorage}


@dataclass
class Group:
    site: Code | None = SHOULDER
    laterality: Code | None = RIGHT
    tracking_uid: str | None = None
    tracking_id: str = "Lesion 1"
    measurements: list[tuple[Code, float, Code]] = field(
        default_factory=lambda: [(LENGTH, 14.0, MM)])
    qualitative: list[tuple[Code, Code]] = field(default_factory=list)
    kind: str = "planar"  # or "image": a TID 1501 measurement group without a region
    on_prior: bool = False  # measured on the prior study's image (write_sr prior_date)


def image(study_uid: str, patient_id: str, study_date: str, modality: str,
          accession: str) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = SOP_OF[modality]
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientID = patient_id
    ds.PatientName = "Anonymous^Patient"
    ds.PatientBirthDate = "19680101"
    ds.PatientSex = "F"
    ds.StudyDate = study_date
    ds.StudyTime = "120000"
    ds.StudyID = "1"
    ds.AccessionNumber = accession
    ds.ReferringPhysicianName = ""
    ds.Modality = modality
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.FrameOfReferenceUID = generate_uid()
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PixelRepresentation = 64, 64, 1, 0
    return ds


SR_CLASSES = {"3d": hd.sr.Comprehensive3DSR, "comprehensive": hd.sr.ComprehensiveSR,
              "enhanced": hd.sr.EnhancedSR}


def write_sr(path: Path, groups: list[Group], *, patient_id: str = "P-0001",
             study_date: str = "20240110", modality: str = "CT", accession: str = "ACC1",
             study_uid: str | None = None, prior_date: str | None = None,
             library: bool = False, sop: str = "3d") -> Path:
    """An SR (Comprehensive 3D by default) with one group per `Group`, referencing one image
    of the report's study, or of a prior study taken on `prior_date` (`Group.on_prior`).
    `library`: an Image Library whose entries give each image's Study Date (TID 1602)."""
    study_uid = study_uid or generate_uid()
    img = image(study_uid, patient_id, study_date, modality, accession)
    prior = image(generate_uid(), patient_id, prior_date or study_date, modality, "PRIOR")
    context = hd.sr.ObservationContext(
        observer_person_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name="Reader^Radiology")))
    items = []
    for g in groups:
        seen = prior if g.on_prior else img
        region = hd.sr.ImageRegion(
            graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
            graphic_data=np.array([[10.0, 10.0], [20.0, 20.0]]),
            source_image=hd.sr.SourceImageForRegion.from_source_image(seen))
        sites = [] if g.site is None else [
            hd.sr.FindingSite(anatomic_location=g.site, laterality=g.laterality)]
        common: dict[str, Any] = {
            "tracking_identifier": hd.sr.TrackingIdentifier(uid=g.tracking_uid,
                                                            identifier=g.tracking_id),
            "finding_type": Code("52988006", "SCT", "Lesion"),
            "finding_sites": sites,
            "measurements": [hd.sr.Measurement(name=n, value=v, unit=u)
                             for n, v, u in g.measurements],
            "qualitative_evaluations": [hd.sr.QualitativeEvaluation(name=n, value=v)
                                        for n, v in g.qualitative] or None,
        }
        if g.kind == "image":
            items.append(hd.sr.MeasurementsAndQualitativeEvaluations(
                **common,
                source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(seen)]))
        else:
            items.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
                **common, referenced_region=region))
    report = hd.sr.MeasurementReport(
        observation_context=context,
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=items)
    evidence = [img, prior] if any(g.on_prior for g in groups) else [img]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = SR_CLASSES[sop](
            evidence=evidence, content=report, series_number=99,
            series_instance_uid=generate_uid(), sop_instance_uid=generate_uid(),
            instance_number=1, manufacturer="calcitrack tests")
    sr.save_as(path)
    if library:
        ds = dcmread(path)
        add_image_library(ds, evidence)
        ds.save_as(path)
    return path


def _item(relationship: str, value_type: str, name: Code, **values: Any) -> Dataset:
    item = Dataset()
    item.RelationshipType = relationship
    item.ValueType = value_type
    item.ConceptNameCodeSequence = [_code(name)]
    for key, value in values.items():
        setattr(item, key, value)
    return item


def _code(code: Code) -> Dataset:
    ds = Dataset()
    ds.CodeValue, ds.CodingSchemeDesignator, ds.CodeMeaning = (
        code.value, code.scheme_designator, code.meaning)
    return ds


def add_image_library(sr: Dataset, images: list[Dataset]) -> None:
    """TID 1600: one Image Library Group per image, each entry with its Study Date (TID 1602
    row "Study Date"), before the Imaging Measurements as TID 1500 orders them."""
    groups = []
    for img in images:
        ref = Dataset()
        ref.ReferencedSOPClassUID = img.SOPClassUID
        ref.ReferencedSOPInstanceUID = img.SOPInstanceUID
        entry = Dataset()
        entry.RelationshipType, entry.ValueType = "CONTAINS", "IMAGE"
        entry.ReferencedSOPSequence = [ref]
        entry.ContentSequence = [_item("HAS ACQ CONTEXT", "DATE", codes.DCM.StudyDate,
                                       Date=img.StudyDate)]
        groups.append(_item("CONTAINS", "CONTAINER", codes.DCM.ImageLibraryGroup,
                            ContinuityOfContent="SEPARATE", ContentSequence=[entry]))
    root = sr.ContentSequence
    at = next(i for i, item in enumerate(root)
              if item.ConceptNameCodeSequence[0].CodeValue == "126010")
    root.insert(at, _item("CONTAINS", "CONTAINER", codes.DCM.ImageLibrary,
                          ContinuityOfContent="SEPARATE", ContentSequence=groups))


def drop_tracking_uids(path: Path) -> Path:
    """Remove every Tracking Unique Identifier (DCM 112040), as some writers leave it out."""
    ds = dcmread(path)

    def strip(items: Any) -> None:
        keep = [i for i in items if not (
            "ConceptNameCodeSequence" in i
            and i.ConceptNameCodeSequence[0].CodeValue == "112040")]
        items[:] = keep  # pydicom Sequences support slice assignment
        for item in keep:
            if "ContentSequence" in item:
                strip(item.ContentSequence)

    strip(ds.ContentSequence)
    ds.save_as(path)
    return path
