"""A DICOM SR as dcmjs' Cornerstone adapter writes it (`adapters/Cornerstone/MeasurementReport`
with `utilities/TID1500` and `TID300`), quirks included, built with pydicom:

- Enhanced SR; the derivation copies patient and study attributes only from what the viewer
  passed, often nothing but the UIDs: PatientID and StudyDate are then empty, while
  SeriesDate and ContentDate are the day the annotation was saved;
- one Measurement Group per measurement; its Tracking Identifier names the tool
  ("cornerstoneTools@^4.0.0:Length"), not the lesion, and its Tracking Unique Identifier is new
  at every save;
- Length is the legacy SRT code G-D7FE; the finding site is a CONTAINS item (not HAS CONCEPT
  MOD); the NUM holds its SCOORD, which holds the IMAGE it was drawn on;
- an open polyline tool leaves its NUM without a measured value (`getMeasuredValueSequence`
  returns null), which highdicom refuses with a dump of the item;
- an Image Library Group of bare IMAGE entries (no TID 1602 descriptors) and coding scheme
  99dcmjs for "Unknown procedure".
"""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    EnhancedSRStorage,
    ExplicitVRLittleEndian,
    generate_uid,
)


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    ds = Dataset()
    ds.CodeValue, ds.CodingSchemeDesignator, ds.CodeMeaning = value, scheme, meaning
    return ds


def _item(relationship: str, value_type: str, name: Dataset, **values: object) -> Dataset:
    ds = Dataset()
    ds.RelationshipType, ds.ValueType = relationship, value_type
    ds.ConceptNameCodeSequence = [name]
    for key, value in values.items():
        setattr(ds, key, value)
    return ds


def _image(ref: Dataset, relationship: str) -> Dataset:
    ds = Dataset()
    ds.RelationshipType, ds.ValueType = relationship, "IMAGE"
    ds.ReferencedSOPSequence = [ref]
    return ds


def _group(tool: str, ref: Dataset, value_mm: str | None, site: Dataset | None) -> Dataset:
    scoord = Dataset()
    scoord.RelationshipType, scoord.ValueType = "INFERRED FROM", "SCOORD"
    scoord.GraphicType = "POLYLINE"
    scoord.GraphicData = [10.5, 20.25, 130.0, 40.125]
    scoord.ContentSequence = [_image(ref, "SELECTED FROM")]
    num = _item("CONTAINS", "NUM", _code("G-D7FE", "SRT", "Length"), ContentSequence=[scoord])
    if value_mm is not None:
        measured = Dataset()
        measured.MeasurementUnitsCodeSequence = [_code("mm", "UCUM", "millimeter")]
        measured.NumericValue = value_mm
        num.MeasuredValueSequence = [measured]
    items = [
        _item("HAS OBS CONTEXT", "TEXT", _code("112039", "DCM", "Tracking Identifier"),
              TextValue=f"cornerstoneTools@^4.0.0:{tool}"),
        _item("HAS OBS CONTEXT", "UIDREF", _code("112040", "DCM", "Tracking Unique Identifier"),
              UID=generate_uid()),
    ]
    if site is not None:
        items.append(_item("CONTAINS", "CODE", _code("363698007", "SCT", "Finding Site"),
                           ConceptCodeSequence=[site]))
    items.append(num)
    return _item("CONTAINS", "CONTAINER", _code("125007", "DCM", "Measurement Group"),
                 ContinuityOfContent="SEPARATE", ContentSequence=items)


def write_dcmjs_sr(path: Path, *, patient_id: str = "", study_date: str = "",
                   saved_on: str = "20250301", polyline: bool = True) -> Path:
    """A Length of 23.4 mm on the right shoulder, and (`polyline`) an open polyline without
    a measured value, as the Cornerstone adapter saves them."""
    study = generate_uid()
    ref = Dataset()
    ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = CTImageStorage, generate_uid()
    shoulder = _code("16982005", "SCT", "Shoulder region structure")
    groups = [_group("Length", ref, "23.4567890123457", shoulder)]
    if polyline:
        groups.append(_group("PlanarFreehandROI", ref, None, shoulder))

    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = EnhancedSRStorage, generate_uid()
    ds.Modality, ds.ValueType = "SR", "CONTAINER"
    for key in ("AccessionNumber", "ReferringPhysicianName", "StudyID", "StudyTime",
                "PatientName", "PatientBirthDate", "PatientSex", "PatientAge"):
        setattr(ds, key, "")
    ds.PatientID, ds.StudyDate, ds.StudyInstanceUID = patient_id, study_date, study
    ds.Manufacturer = ds.ManufacturerModelName = "Unspecified"
    ds.SoftwareVersions, ds.DeviceSerialNumber = "0", "1"
    ds.SeriesDescription, ds.SeriesNumber = "Research Derived series", "99"
    ds.ImageComments, ds.ContentQualification = "NOT FOR CLINICAL USE", "RESEARCH"
    ds.SeriesDate = ds.ContentDate = saved_on
    ds.SeriesTime = ds.ContentTime = "101010"
    ds.SeriesInstanceUID = generate_uid()
    ds.ConceptNameCodeSequence = [_code("126000", "DCM", "Imaging Measurement Report")]
    ds.ContinuityOfContent, ds.CompletionFlag, ds.VerificationFlag = (
        "SEPARATE", "COMPLETE", "UNVERIFIED")
    ds.PerformedProcedureCodeSequence = []
    ds.ReferencedPerformedProcedureStepSequence = []
    ds.InstanceNumber = 1
    series = Dataset()
    series.SeriesInstanceUID, series.ReferencedSOPSequence = generate_uid(), [ref]
    evidence = Dataset()
    evidence.StudyInstanceUID, evidence.ReferencedSeriesSequence = study, [series]
    ds.CurrentRequestedProcedureEvidenceSequence = [evidence]
    scheme = Dataset()
    scheme.CodingSchemeDesignator, scheme.CodingSchemeName = "99dcmjs", "Codes used for dcmjs"
    scheme.CodingSchemeVersion = "0"
    scheme.CodingSchemeResponsibleOrganization = "https://github.com/dcmjs-org/dcmjs"
    ds.CodingSchemeIdentificationSequence = [scheme]
    template = Dataset()
    template.MappingResource, template.TemplateIdentifier = "DCMR", "1500"
    ds.ContentTemplateSequence = [template]
    language = _item(
        "HAS CONCEPT MOD", "CODE",
        _code("121049", "DCM", "Language of Content Item and Descendants"),
        ConceptCodeSequence=[_code("eng", "RFC5646", "English")],
        ContentSequence=[_item("HAS CONCEPT MOD", "CODE",
                               _code("121046", "DCM", "Country of Language"),
                               ConceptCodeSequence=[_code("US", "ISO3166_1", "United States")])])
    library_group = _item("CONTAINS", "CONTAINER", _code("126200", "DCM", "Image Library Group"),
                          ContinuityOfContent="SEPARATE",
                          ContentSequence=[_image(ref, "CONTAINS")])
    ds.ContentSequence = [
        language,
        _item("HAS OBS CONTEXT", "PNAME", _code("121008", "DCM", "Person Observer Name"),
              PersonName="unknown^unknown"),
        _item("HAS CONCEPT MOD", "CODE", _code("121058", "DCM", "Procedure reported"),
              ConceptCodeSequence=[_code("1", "99dcmjs", "Unknown procedure")]),
        _item("CONTAINS", "CONTAINER", _code("111028", "DCM", "Image Library"),
              ContinuityOfContent="SEPARATE", ContentSequence=[library_group]),
        _item("CONTAINS", "CONTAINER", _code("126010", "DCM", "Imaging Measurements"),
              ContinuityOfContent="SEPARATE", ContentSequence=groups),
    ]
    meta = FileMetaDataset()
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = (
        ds.SOPClassUID, ds.SOPInstanceUID)
    meta.ImplementationClassUID, meta.ImplementationVersionName = generate_uid(), "dcmjs"
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)
    return path
