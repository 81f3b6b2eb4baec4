"""Synthetic DICOM: radiographs with real pixel data and the TID 1500 measurement reports a
viewer saves on them (highdicom), for the PACS tests and anything else that needs a study.

A radiograph is a 16-bit MONOCHROME2 digital X-ray (DX for presentation) with a soft-tissue
background and one bright elliptical deposit at a known place; its report measures that deposit
(Length in mm from the pixel spacing) and marks it with a polyline along its long axis, an
ellipse round it, or a point at its centre. The reports are what `tracker.interop.sr` reads.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import (
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    generate_uid,
)
from pydicom.valuerep import DA, TM

SHOULDER = Code("16982005", "SCT", "Shoulder region structure")
KNEE = Code("72696002", "SCT", "Knee region structure")
RIGHT = Code("24028007", "SCT", "Right")
LEFT = Code("7771000", "SCT", "Left")
LESION = Code("52988006", "SCT", "Lesion")
LENGTH = Code("410668003", "SCT", "Length")
MM = Code("mm", "UCUM", "millimeter")
# Qualitative evaluations (README "Interoperability"): the concept each is said under, and
# the values the SR importer reads.
LESION_DENSITY = Code("111035", "DCM", "Lesion Density")
MARGINS = Code("111037", "DCM", "Margins")
CALCIFICATION_TYPE = Code("111009", "DCM", "Calcification Type")
HIGH_DENSITY = Code("129744006", "SCT", "High density lesion")
EQUAL_DENSITY = Code("129745007", "SCT", "Equal density (isodense) lesion")
LOW_DENSITY = Code("129746008", "SCT", "Low density (not containing fat) lesion")
CIRCUMSCRIBED = Code("129738007", "SCT", "Circumscribed lesion")
INDISTINCT = Code("129741003", "SCT", "Indistinct margin")
HETEROGENEOUS = Code("129763007", "SCT", "Heterogeneous calcification")
LUCENT_CENTERED = Code("129754005", "SCT", "Lucent-centered calcification")
EGGSHELL = Code("129751002", "SCT", "Eggshell calcification")
CONCEPT_OF = {HIGH_DENSITY: LESION_DENSITY, EQUAL_DENSITY: LESION_DENSITY,
              LOW_DENSITY: LESION_DENSITY, CIRCUMSCRIBED: MARGINS, INDISTINCT: MARGINS,
              HETEROGENEOUS: CALCIFICATION_TYPE, LUCENT_CENTERED: CALCIFICATION_TYPE,
              EGGSHELL: CALCIFICATION_TYPE}

# Codes only the SR import tests put in reports: legacy SRT codes, sites outside this clinic's
# regions, units and measurements a report may carry that the importer must convert or refuse.
SHOULDER_SRT = Code("T-D2220", "SRT", "Shoulder")
LUMBAR = Code("122496007", "SCT", "Lumbar spine structure")
LUNG = Code("39607008", "SCT", "Lung structure")
LEFT_SRT = Code("G-A101", "SRT", "Left")
LONG_AXIS_SRT = Code("G-A185", "SRT", "Long Axis")
SHORT_AXIS = Code("103340004", "SCT", "Short Axis")
AREA = Code("42798000", "SCT", "Area")
CM = Code("cm", "UCUM", "centimeter")
UM = Code("um", "UCUM", "micrometer")
MM2 = Code("mm2", "UCUM", "square millimeter")
PIXELS = Code("{pixels}", "UCUM", "pixels")

# The SR storage classes a viewer may save a TID 1500 report as.
SR_CLASSES: dict[str, type[hd.sr.EnhancedSR | hd.sr.ComprehensiveSR | hd.sr.Comprehensive3DSR]] = {
    "enhanced": hd.sr.EnhancedSR, "comprehensive": hd.sr.ComprehensiveSR,
    "comprehensive3d": hd.sr.Comprehensive3DSR}

BACKGROUND = 900     # soft tissue, of 12 stored bits
DEPOSIT_VALUE = 3600  # calcium


@dataclass(frozen=True)
class Deposit:
    """Where the bright ellipse is, in pixels (column, row of its centre; half-axes)."""

    column: float = 300.0
    row: float = 200.0
    half_width: float = 40.0   # along the columns: the long axis when the larger
    half_height: float = 25.0


@dataclass(frozen=True)
class Radiograph:
    """A synthetic radiograph and what is drawn on it."""

    dataset: Dataset
    deposit: Deposit
    spacing_mm: float

    @property
    def length_mm(self) -> float:
        """The deposit's longest diameter, as a reader would measure it."""
        return round(2 * max(self.deposit.half_width, self.deposit.half_height)
                     * self.spacing_mm, 2)


def radiograph(*, patient_id: str = "P-0001", study_uid: str | None = None,
               study_date: str = "20240110", accession: str = "ACC1",
               deposit: Deposit | None = None, size: int = 512, spacing_mm: float = 0.2,
               seed: int = 0) -> Radiograph:
    """A `size`x`size` DX image (MONOCHROME2, 12 of 16 bits) with the deposit drawn over a
    smooth background with a little noise (the same seed, the same pixels)."""
    deposit = deposit or Deposit()
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    background = BACKGROUND + 300 * np.exp(-((cols - size / 2) ** 2) / (2 * (size / 3) ** 2))
    inside = (((cols - deposit.column) / deposit.half_width) ** 2
              + ((rows - deposit.row) / deposit.half_height) ** 2) <= 1.0
    pixels = np.where(inside, DEPOSIT_VALUE, background) + rng.normal(0, 20, (size, size))
    frame = np.clip(pixels, 0, 4095).astype(np.uint16)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    ds.SOPClassUID = DigitalXRayImageStorageForPresentation
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientID = patient_id
    ds.PatientName = "Anonymous^Patient"
    ds.PatientBirthDate = "19680101"
    ds.PatientSex = "F"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study_date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
    ds.StudyID = "1"
    ds.AccessionNumber = accession
    ds.ReferringPhysicianName = ""
    ds.Modality = "DX"
    ds.Manufacturer = "calcitrack testkit"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.PatientOrientation = ["L", "F"]
    ds.BodyPartExamined = "SHOULDER"
    ds.PixelSpacing = ds.ImagerPixelSpacing = [spacing_mm, spacing_mm]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = size
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    ds.PresentationLUTShape = "IDENTITY"
    ds.PixelData = frame.tobytes()
    return Radiograph(ds, deposit, spacing_mm)


@dataclass
class Finding:
    """One measurement group: the deposit of `image`, where and how it was marked."""

    image: Radiograph
    shape: str = "polyline"  # "ellipse", "point"
    site: Code = SHOULDER
    laterality: Code | None = RIGHT
    tracking_id: str = "Deposit 1"
    tracking_uid: str | None = None
    evaluations: Sequence[Code] = field(default_factory=lambda: [HIGH_DENSITY, CIRCUMSCRIBED])


def graphic_data(image: Radiograph, shape: str) -> np.ndarray:
    """The SCOORD (column, row) points a viewer saves for the deposit's mark: both ends of
    its long axis (POLYLINE), both ends of both axes (ELLIPSE), or its centre (POINT)."""
    d = image.deposit
    if shape == "point":
        return np.array([[d.column, d.row]])
    across = [[d.column - d.half_width, d.row], [d.column + d.half_width, d.row]]
    down = [[d.column, d.row - d.half_height], [d.column, d.row + d.half_height]]
    long_axis, short_axis = (across, down) if d.half_width >= d.half_height else (down, across)
    if shape == "polyline":
        return np.array(long_axis)
    if shape == "ellipse":
        return np.array(long_axis + short_axis)
    raise ValueError(f"unknown shape {shape!r}")


def _group(finding: Finding) -> hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations:
    region = hd.sr.ImageRegion(
        graphic_type=finding.shape.upper(),
        graphic_data=graphic_data(finding.image, finding.shape),
        source_image=hd.sr.SourceImageForRegion.from_source_image(
            finding.image.dataset))
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=finding.tracking_uid or generate_uid(), identifier=finding.tracking_id),
        referenced_region=region,
        finding_type=LESION,
        finding_sites=[hd.sr.FindingSite(anatomic_location=finding.site,
                                         laterality=finding.laterality)],
        measurements=[hd.sr.Measurement(name=LENGTH, value=finding.image.length_mm, unit=MM)],
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(name=CONCEPT_OF[v], value=v)
                                 for v in finding.evaluations] or None)


def measurement_report(findings: Sequence[Finding], *, sr_class: str = "comprehensive3d",
                       written: date | None = None) -> Dataset:
    """A TID 1500 report of the first finding's study (as a viewer saves one), with every
    finding's image as evidence, written (ContentDate) on `written` (default: the study day)."""
    images = list({id(f.image): f.image.dataset for f in findings}.values())
    context = hd.sr.ObservationContext(
        observer_person_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name="Reader^Radiology")))
    report = hd.sr.MeasurementReport(
        observation_context=context,
        procedure_reported=Code("36643-5", "LN", "XR Shoulder 2 Views"),
        imaging_measurements=[_group(f) for f in findings])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # highdicom's notes on optional attributes
        sr = SR_CLASSES[sr_class](
            evidence=images, content=report, series_number=99,
            series_instance_uid=generate_uid(), sop_instance_uid=generate_uid(),
            instance_number=1, manufacturer="calcitrack testkit", is_complete=True,
            content_date=written or DA(images[0].StudyDate), content_time=TM("121500"))
    return sr
