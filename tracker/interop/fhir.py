"""A patient's stored record (`tracker.queries.show.patient_record`) -> a FHIR R5 `collection`
Bundle.

Built with fhir.resources (R5) models; no database here: the caller reads the record through the
read side. Every reference is a `urn:uuid:` fullUrl of another entry of the same bundle, derived
from stable ids (uuid5), so the same record always gives the same bundle.

This module owns calcitrack's FHIR code system and identifier URIs (`SYSTEMS`); the README lists
them. They are URNs in calcitrack's own namespace, like the timeline schema's `$id`.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from fhir.resources.annotation import Annotation
from fhir.resources.bodystructure import BodyStructure, BodyStructureIncludedStructure
from fhir.resources.bundle import Bundle, BundleEntry
from fhir.resources.codeableconcept import CodeableConcept
from fhir.resources.codeablereference import CodeableReference
from fhir.resources.coding import Coding
from fhir.resources.extension import Extension
from fhir.resources.flag import Flag
from fhir.resources.identifier import Identifier
from fhir.resources.imagingstudy import ImagingStudy
from fhir.resources.observation import Observation, ObservationComponent
from fhir.resources.patient import Patient
from fhir.resources.period import Period
from fhir.resources.quantity import Quantity
from fhir.resources.reference import Reference
from fhir.resources.resource import Resource
from fhir.resources.servicerequest import ServiceRequest

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
GENDER = {"F": "female", "M": "male", "X": "other"}
DICOM_MODALITY = {"XR": "DX", "CT": "CT", "MR": "MR", "US": "US"}
MORPHOLOGY_KEYS = ("density", "margin", "texture", "pattern")
_UUID_NS = uuid.UUID("6f0b4a52-2b0e-4f7e-9a40-6d1c6b1f6a30")


def _urn(*parts: object) -> str:
    return f"urn:uuid:{uuid.uuid5(_UUID_NS, '/'.join(str(p) for p in parts))}"


def _when(iso_date: str) -> Any:
    """A FHIR date or dateTime may be a plain date; the models' type hints say datetime."""
    return iso_date


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


def _patient(record: dict[str, Any]) -> Patient:
    out = Patient(
        identifier=[Identifier(system=SYSTEMS["patient-id"], value=record["patient"])],
        gender=GENDER.get(record.get("sex") or ""),
    )
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
    return BodyStructure(
        identifier=[Identifier(system=SYSTEMS["lesion-id"], value=lesion["lesion"])],
        includedStructure=[structure],
        morphology=_ours("entity", entity) if entity else None,
        description=description,
        patient=_ref(patient_url),
    )


def _imaging_study(study_uid: str, obs: dict[str, Any], patient_url: str) -> ImagingStudy:
    identifiers = [Identifier(system=DICOM_UID, value=f"urn:oid:{study_uid}")]
    if obs.get("accession"):
        identifiers.append(Identifier(
            type=_concept(IDENTIFIER_TYPE, "ACSN", "Accession ID"), value=obs["accession"]))
    return ImagingStudy(
        status="available",
        identifier=identifiers,
        subject=_ref(patient_url),
        started=_when(obs["date"]),
        modality=[_concept(DICOM_DCM, DICOM_MODALITY[obs["modality"]], obs["modality"])],
    )


def _measurement(obs: dict[str, Any], patient_url: str, lesion_url: str,
                 study_url: str | None) -> Observation:
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
        focus=[_ref(lesion_url)],
        effectiveDateTime=_when(obs["date"]),
        valueQuantity=_mm(sizes[0]) if sizes else None,
        method=_concept(DICOM_DCM, DICOM_MODALITY[obs["modality"]], obs["modality"]),
        component=components or None,
        derivedFrom=[_ref(study_url)] if study_url else None,
        note=_note(obs["note"]) if obs.get("note") else None,
    )


def _stage(obs: dict[str, Any], engine: str | None, patient_url: str, lesion_url: str,
           measurement_url: str) -> Observation:
    confidence = Quantity(value=Decimal(str(obs["confidence"])), unit="1", system=UCUM, code="1")
    return Observation(
        status="final",
        category=[_concept(OBSERVATION_CATEGORY, "imaging", "Imaging")],
        code=_concept(SYSTEMS["observation"], "stage", "Lesion stage"),
        subject=_ref(patient_url),
        focus=[_ref(lesion_url)],
        effectiveDateTime=_when(obs["date"]),
        valueCodeableConcept=_ours("stage", obs["stage"]),
        derivedFrom=[_ref(measurement_url)],
        method=_concept(SYSTEMS["engine"], engine or "unknown",
                        f"calcitrack engine {engine or 'unknown'}"),
        component=[_component("confidence", confidence)],
        note=_note("; ".join(obs["evidence"])) if obs.get("evidence") else None,
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


def patient_bundle(record: dict[str, Any]) -> Bundle:
    """One `collection` Bundle: the patient, and per lesion its BodyStructure, measurements,
    stages, imaging studies, open alerts and next follow-up."""
    pid = record["patient"]
    patient_url = _urn("patient", pid)
    entries: list[tuple[str, Resource]] = [(patient_url, _patient(record))]
    studies: dict[str, str] = {}
    for lesion in record["lesions"]:
        lesion_url = _urn("lesion", pid, lesion["lesion"])
        entries.append((lesion_url, _body_structure(lesion, patient_url)))
        engine = lesion["assessment"].get("engine_version")
        for obs in lesion["observations"]:
            study_url = None
            uid = obs.get("study_uid")
            if uid:
                study_url = studies.get(uid)
                if study_url is None:
                    study_url = studies[uid] = _urn("study", uid)
                    entries.append((study_url, _imaging_study(uid, obs, patient_url)))
            measurement_url = _urn("observation", pid, lesion["lesion"], obs["date"])
            entries.append((measurement_url,
                            _measurement(obs, patient_url, lesion_url, study_url)))
            if "confidence" in obs:  # an assessment that saw the current data
                entries.append((_urn("stage", pid, lesion["lesion"], obs["date"]),
                                _stage(obs, engine, patient_url, lesion_url, measurement_url)))
        for alert in lesion["alerts"]:
            entries.append((_urn("flag", pid, lesion["lesion"], alert["rule"], alert["since"]),
                            _flag(alert, lesion, patient_url, lesion_url)))
        when = lesion["assessment"].get("next_follow_up")
        if when:
            entries.append((_urn("follow-up", pid, lesion["lesion"]),
                            _follow_up(lesion, when, patient_url, lesion_url)))
    return Bundle(
        type="collection",
        identifier=Identifier(system=SYSTEMS["patient-id"], value=pid),
        entry=[BundleEntry(fullUrl=url, resource=resource) for url, resource in entries],
    )


def bundle_json(bundle: Bundle) -> dict[str, Any]:
    """The bundle as FHIR JSON (fhir.resources' own serialisation)."""
    out: dict[str, Any] = bundle.model_dump(mode="json", exclude_none=True)
    return out
