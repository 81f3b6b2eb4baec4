"""A patient's stored record (`tracker.queries.show.patient_record`) -> a FHIR R5 `collection`
Bundle.

Built with fhir.resources (R5) models; no database here: the caller reads the record through the
read side. Every reference is a `urn:uuid:` fullUrl of another entry of the same bundle, derived
from stable ids (uuid5), so the same record always gives the same bundle.

This module owns calcitrack's FHIR code system and identifier URIs (`SYSTEMS`); the README lists
them. They are URNs in calcitrack's own namespace, like the timeline schema's `$id`.

Profiles (`meta.profile`) are claimed only where a resource meets them, from the HL7 "DICOM SR
to FHIR Resource Mapping" IG (hl7.fhir.uv.dicom-sr, FHIR R5): the lesion's BodyStructure is a
DICOM SR finding site (its tracking identifiers are the viewer's), the stage engine a DICOM SR
algorithm identification Device, and a stage the FHIR form of the qualitative evaluation
calcitrack writes back to the PACS, when its visit has a study UID (the profile requires the
ImagingStudy). FHIR core has no profile for imaging measurements (its vital-signs profiles do
not apply), and a measurement here is a visit's pooled sizes, not one SR measurement with the
observation UID, device and time the IG's imaging-measurement profile requires: none is claimed.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from fhir.resources.annotation import Annotation
from fhir.resources.bodystructure import BodyStructure, BodyStructureIncludedStructure
from fhir.resources.bundle import Bundle, BundleEntry
from fhir.resources.codeableconcept import CodeableConcept
from fhir.resources.codeablereference import CodeableReference
from fhir.resources.coding import Coding
from fhir.resources.device import Device, DeviceVersion
from fhir.resources.diagnosticreport import DiagnosticReport
from fhir.resources.extension import Extension
from fhir.resources.flag import Flag
from fhir.resources.identifier import Identifier
from fhir.resources.imagingstudy import ImagingStudy
from fhir.resources.meta import Meta
from fhir.resources.observation import Observation, ObservationComponent
from fhir.resources.patient import Patient
from fhir.resources.period import Period
from fhir.resources.quantity import Quantity
from fhir.resources.reference import Reference
from fhir.resources.resource import Resource
from fhir.resources.servicerequest import ServiceRequest

from tracker.errors import InvalidInput, Problem
from tracker.pacs.coding import is_uid
from tracker.vocabulary import LATERALITY_SNOMED, REGION_SNOMED, Laterality, Region, label

NAMESPACE = "urn:calcitrack:fhir"
SYSTEMS: dict[str, str] = {
    name: f"{NAMESPACE}:{name}"
    for name in ("patient-id", "lesion-id", "observation", "stage", "density", "margin",
                 "texture", "pattern", "feature", "entity", "alert-kind", "alert-severity",
                 "alert-rule", "engine")
}
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
DICOM_DCM = "http://dicom.nema.org/resources/ontology/DCM"
DICOM_UID = "urn:dicom:uid"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
DIAGNOSTIC_SERVICE = "http://terminology.hl7.org/CodeSystem/v2-0074"
UMLS = "http://terminology.hl7.org/CodeSystem/umls"
LOINC = "http://loinc.org"
DICOM_SR_IG = "http://hl7.org/fhir/uv/dicom-sr/StructureDefinition"
PROFILES = {name: f"{DICOM_SR_IG}/{name}" for name in (
    "dicom-sr-finding-site", "algorithm-identification", "imaging-qualitative-evaluation")}
GENDER = {"F": "female", "M": "male", "X": "other"}
DICOM_MODALITY = {"XR": "DX", "CT": "CT", "MR": "MR", "US": "US"}
# The measurement's method: the imaging procedure it was made on (SNOMED CT).
MODALITY_PROCEDURE = {"XR": ("363680008", "Radiographic imaging procedure"),
                      "CT": ("77477000", "Computerized axial tomography"),
                      "MR": ("113091000", "Magnetic resonance imaging"),
                      "US": ("16310003", "Diagnostic ultrasonography")}
MORPHOLOGY_KEYS = ("density", "margin", "texture", "pattern")
_UUID_NS = uuid.UUID("6f0b4a52-2b0e-4f7e-9a40-6d1c6b1f6a30")


def _urn(*parts: object) -> str:
    return f"urn:uuid:{uuid.uuid5(_UUID_NS, '/'.join(str(p) for p in parts))}"


def _when(iso_date: str) -> Any:
    """A FHIR date or dateTime may be a plain date; the models' type hints say datetime."""
    return iso_date


def _instant(value: str | None) -> Any:
    """A FHIR instant has its zone; SQLite keeps none, and what it keeps is the server's local
    time (`tracker.clock.now`), so a time without one is read as local."""
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone().isoformat()


def _note(text: str) -> list[Annotation]:
    return [Annotation(text=text)]


def _ref(full_url: str) -> Reference:
    return Reference(reference=full_url)


def _concept(system: str, code: str, display: str | None = None,
             text: str | None = None) -> CodeableConcept:
    return CodeableConcept(coding=[Coding(system=system, code=code,
                                          display=display or label(code))], text=text)


def _ours(kind: str, code: str) -> CodeableConcept:
    return _concept(SYSTEMS[kind], code)


def _mm(value: float) -> Quantity:
    return Quantity(value=Decimal(str(value)), unit="mm", system=UCUM, code="mm")


def _component(kind: str, value: CodeableConcept | Quantity | bool) -> ObservationComponent:
    code = _ours("observation", kind)
    if isinstance(value, CodeableConcept):
        return ObservationComponent(code=code, valueCodeableConcept=value)
    if isinstance(value, bool):
        return ObservationComponent(code=code, valueBoolean=value)
    return ObservationComponent(code=code, valueQuantity=value)


def check_identifier_system(system: str | None) -> None:
    """PATIENT_IDENTIFIER_SYSTEM is an absolute URI (the hospital's namespace), or unset."""
    if system and not re.fullmatch(r"(https?://[^\s/]+\S*|urn:[A-Za-z0-9][\w.-]*:\S+)", system):
        raise InvalidInput([Problem("PATIENT_IDENTIFIER_SYSTEM", "must be an absolute URI, e.g."
                                    " https://hospital.example/mrn or urn:oid:1.2.3")])


def _profiled(name: str) -> Meta:
    return Meta(profile=[PROFILES[name]])


def _patient(record: dict[str, Any], system: str | None) -> Patient:
    """The identifier is the hospital's record number (PATIENT_IDENTIFIER_SYSTEM) when set,
    else calcitrack's own."""
    identifier = Identifier(system=system or SYSTEMS["patient-id"], value=record["patient"])
    if system:
        identifier.type = _concept(IDENTIFIER_TYPE, "MR", "Medical record number")
    out = Patient(identifier=[identifier], gender=GENDER.get(record.get("sex") or ""))
    if record.get("birth_year"):
        out.birthDate = _when(str(record["birth_year"]))  # FHIR date with year precision
    return out


def _body_structure(lesion: dict[str, Any], patient_url: str) -> BodyStructure:
    site = lesion["site"]
    region = Region(site["region"])
    structure = BodyStructureIncludedStructure(
        structure=_concept(SNOMED, REGION_SNOMED[region], label(region.value)))
    side = Laterality(site["laterality"])
    if side in LATERALITY_SNOMED:
        structure.laterality = _concept(SNOMED, LATERALITY_SNOMED[side], side.value.title())
    description = ", ".join(p for p in (site["laterality"], label(site["region"]),
                                        site.get("structure"), label(site["compartment"])) if p)
    entity = lesion.get("entity")
    identifiers = [
        Identifier(system=SYSTEMS["lesion-id"], value=lesion["lesion"]),
        Identifier(type=_concept(DICOM_DCM, "112039", "Tracking Identifier"),
                   value=lesion["lesion"])]
    if is_uid(lesion["lesion"]):  # the viewer's Tracking Unique Identifier
        identifiers.append(Identifier(
            type=_concept(DICOM_DCM, "112040", "Tracking Unique Identifier"), system=DICOM_UID,
            value=f"urn:oid:{lesion['lesion']}"))
    return BodyStructure(
        meta=_profiled("dicom-sr-finding-site"),
        identifier=identifiers,
        includedStructure=[structure],
        morphology=_ours("entity", entity) if entity else None,
        description=description,
        patient=_ref(patient_url),
    )


def _study_identifier(study_uid: str) -> Identifier:
    return Identifier(type=_concept(DICOM_DCM, "110180", "Study Instance UID"), system=DICOM_UID,
                      value=f"urn:oid:{study_uid}")


def _imaging_study(obs: dict[str, Any], patient_url: str) -> ImagingStudy:
    """The study a visit was imaged in: identified by its Study Instance UID when known (one
    study, whichever lesions it shows), else by the day and modality alone."""
    study_uid = obs.get("study_uid")
    identifiers = [_study_identifier(study_uid)] if study_uid else []
    if obs.get("accession"):
        identifiers.append(Identifier(
            type=_concept(IDENTIFIER_TYPE, "ACSN", "Accession ID"), value=obs["accession"]))
    return ImagingStudy(
        status="available",
        identifier=identifiers or None,
        subject=_ref(patient_url),
        started=_when(obs["date"]),
        modality=[_concept(DICOM_DCM, DICOM_MODALITY[obs["modality"]], obs["modality"])],
    )


def _study_ref(study_url: str, obs: dict[str, Any]) -> Reference:
    ref = _ref(study_url)
    if obs.get("study_uid"):
        ref.identifier = _study_identifier(obs["study_uid"])
    return ref


def _method(modality: str) -> CodeableConcept:
    """How the size was measured: on the visit's imaging procedure (and its DICOM modality)."""
    code, display = MODALITY_PROCEDURE[modality]
    return CodeableConcept(coding=[
        Coding(system=SNOMED, code=code, display=display),
        Coding(system=DICOM_DCM, code=DICOM_MODALITY[modality], display=modality)],
        text=f"Measured on {label(modality)}")


def _measurement(obs: dict[str, Any], patient_url: str, lesion_url: str,
                 study_url: str) -> Observation:
    components: list[ObservationComponent] = []
    sizes = obs.get("size_mm") or []
    for i, extra in enumerate(sizes[1:], start=2):
        components.append(_component(f"diameter_{i}", _mm(extra)))
    for key in MORPHOLOGY_KEYS:
        if obs.get(key):
            components.append(_component(key, _ours(key, obs[key])))
    components.extend(_component("feature", _ours("feature", f)) for f in obs.get("features", []))
    if obs.get("visible") is False:
        components.append(_component("visible", False))
    return Observation(
        status="final",
        category=[_concept(OBSERVATION_CATEGORY, "imaging", "Imaging")],
        code=CodeableConcept(coding=[
            Coding(system=SYSTEMS["observation"], code="longest_diameter",
                   display="Longest diameter of the lesion"),
            Coding(system=SNOMED, code="103339001", display="Long axis"),
        ]),
        subject=_ref(patient_url),
        bodyStructure=_ref(lesion_url),
        partOf=[_study_ref(study_url, obs)],
        effectiveDateTime=_when(obs["date"]),
        valueQuantity=_mm(sizes[0]) if sizes else None,
        method=_method(obs["modality"]),
        component=components or None,
        note=_note(obs["note"]) if obs.get("note") else None,
    )


def _engine(assessment: dict[str, Any]) -> Device:
    """The stage engine that made the stages: its version and the clinical rules revision."""
    versions = [DeviceVersion(value=assessment.get("engine_version") or "unknown")]
    if assessment.get("rules_revision") is not None:
        versions.append(DeviceVersion(
            type=_concept(SYSTEMS["engine"], "rules_revision", "Clinical rules revision"),
            value=str(assessment["rules_revision"])))
    return Device(meta=_profiled("algorithm-identification"),
                  displayName="calcitrack stage engine", manufacturer="calcitrack",
                  type=[_concept(SYSTEMS["engine"], "stage_engine", "Lesion stage inference")],
                  version=versions)


def _stage(obs: dict[str, Any], assessment: dict[str, Any], urls: dict[str, str]) -> Observation:
    """A visit's stage: the qualitative evaluation calcitrack also writes back to the PACS."""
    confidence = Quantity(value=Decimal(str(obs["confidence"])), unit="1", system=UCUM, code="1")
    conforms = bool(obs.get("study_uid") and assessment.get("assessed_at"))
    return Observation(
        meta=_profiled("imaging-qualitative-evaluation") if conforms else None,
        status="final",
        category=[_concept(OBSERVATION_CATEGORY, "imaging", "Imaging"),
                  _concept(UMLS, "C0034375", "Qualitative Evaluations")],
        code=_concept(SYSTEMS["observation"], "stage", "Lesion stage"),
        subject=_ref(urls["patient"]),
        bodyStructure=_ref(urls["lesion"]),
        partOf=[_study_ref(urls["study"], obs)],
        effectiveDateTime=_when(obs["date"]),
        issued=_instant(assessment.get("assessed_at")),
        valueCodeableConcept=_ours("stage", obs["stage"]),
        derivedFrom=[_ref(urls["measurement"])],
        device=_ref(urls["engine"]),
        component=[_component("confidence", confidence)],
        note=_note("; ".join(obs["evidence"])) if obs.get("evidence") else None,
    )


def _report(day: str, results: list[str], studies: list[str], patient_url: str,
            ) -> DiagnosticReport:
    """One visit day's imaging results of the patient, every lesion's, grouped."""
    return DiagnosticReport(
        status="final",
        category=[_concept(DIAGNOSTIC_SERVICE, "RAD", "Radiology")],
        code=_concept(LOINC, "18748-4", "Diagnostic imaging study"),
        subject=_ref(patient_url),
        effectiveDateTime=_when(day),
        result=[_ref(url) for url in results],
        study=[_ref(url) for url in dict.fromkeys(studies)],
    )


def _flag(alert: dict[str, Any], lesion: dict[str, Any], patient_url: str,
          lesion_url: str) -> Flag:
    return Flag(
        status="active",
        category=[_ours("alert-severity", alert["severity"])],
        code=CodeableConcept(
            coding=[Coding(system=SYSTEMS["alert-kind"], code=alert["kind"],
                           display=label(alert["kind"])),
                    Coding(system=SYSTEMS["alert-rule"], code=alert["rule"])],
            text=f"Lesion {lesion['lesion']}: {alert['reason']}"),
        subject=_ref(patient_url),
        period=Period(start=_when(alert["since"])),
        extension=[Extension(url="http://hl7.org/fhir/StructureDefinition/flag-detail",
                             valueReference=_ref(lesion_url))],
    )


def _follow_up(lesion: dict[str, Any], when: str, patient_url: str,
               lesion_url: str) -> ServiceRequest:
    return ServiceRequest(
        status="active",
        intent="plan",
        code=CodeableReference(concept=_concept(SYSTEMS["observation"], "follow_up_imaging",
                                                "Follow-up imaging of the lesion")),
        subject=_ref(patient_url),
        occurrenceDateTime=_when(when),
        bodyStructure=_ref(lesion_url),
        note=_note(f"Next follow-up of lesion {lesion['lesion']}"),
    )


def _study_key(pid: str, obs: dict[str, Any]) -> tuple[str, ...]:
    uid = obs.get("study_uid")
    return ("study", uid) if uid else ("study", pid, obs["date"], obs["modality"])


def patient_bundle(record: dict[str, Any], *, patient_system: str | None = None) -> Bundle:
    """One `collection` Bundle: the patient, and per lesion its BodyStructure, measurements,
    stages (with the engine that made them), imaging studies (one per visit's study), open
    alerts and next follow-up; per visit day a DiagnosticReport grouping that day's results.
    `patient_system`: the hospital's record-number namespace (PATIENT_IDENTIFIER_SYSTEM)."""
    check_identifier_system(patient_system)
    pid = record["patient"]
    patient_url = _urn("patient", pid)
    entries: list[tuple[str, Resource]] = [(patient_url, _patient(record, patient_system))]
    studies: dict[tuple[str, ...], str] = {}
    days: dict[str, tuple[list[str], list[str]]] = {}
    for lesion in record["lesions"]:
        lesion_url = _urn("lesion", pid, lesion["lesion"])
        entries.append((lesion_url, _body_structure(lesion, patient_url)))
        assessment = lesion["assessment"]
        engine_url = _urn("engine", assessment.get("engine_version"),
                          assessment.get("rules_revision"))
        if any("confidence" in o for o in lesion["observations"]) and \
                engine_url not in {url for url, _ in entries}:
            entries.append((engine_url, _engine(assessment)))
        for obs in lesion["observations"]:
            key = _study_key(pid, obs)
            study_url = studies.get(key)
            if study_url is None:
                study_url = studies[key] = _urn(*key)
                entries.append((study_url, _imaging_study(obs, patient_url)))
            measurement_url = _urn("observation", pid, lesion["lesion"], obs["date"])
            entries.append((measurement_url,
                            _measurement(obs, patient_url, lesion_url, study_url)))
            results, day_studies = days.setdefault(obs["date"], ([], []))
            results.append(measurement_url)
            day_studies.append(study_url)
            if "confidence" in obs:  # an assessment that saw the current data
                stage_url = _urn("stage", pid, lesion["lesion"], obs["date"])
                entries.append((stage_url, _stage(obs, assessment, {
                    "patient": patient_url, "lesion": lesion_url, "study": study_url,
                    "measurement": measurement_url, "engine": engine_url})))
                results.append(stage_url)
        for alert in lesion["alerts"]:
            entries.append((_urn("flag", pid, lesion["lesion"], alert["rule"], alert["since"]),
                            _flag(alert, lesion, patient_url, lesion_url)))
        when = assessment.get("next_follow_up")
        if when:
            entries.append((_urn("follow-up", pid, lesion["lesion"]),
                            _follow_up(lesion, when, patient_url, lesion_url)))
    for day, (results, day_studies) in sorted(days.items()):
        entries.append((_urn("report", pid, day),
                        _report(day, results, day_studies, patient_url)))
    return Bundle(
        type="collection",
        identifier=Identifier(system=SYSTEMS["patient-id"], value=pid),
        entry=[BundleEntry(fullUrl=url, resource=resource) for url, resource in entries],
    )


def bundle_json(bundle: Bundle) -> dict[str, Any]:
    """The bundle as FHIR JSON (fhir.resources' own serialisation)."""
    out: dict[str, Any] = bundle.model_dump(mode="json", exclude_none=True)
    return out
