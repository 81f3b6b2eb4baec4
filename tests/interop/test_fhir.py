"""`tracker export-fhir`: a FHIR R5 collection Bundle that fhir.resources parses back whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fhir.resources.bundle import Bundle

from tracker.engine import ENGINE_VERSION, RULES_REVISION
from tracker.interop.fhir import PROFILES, SNOMED, SYSTEMS

TIMELINE: dict[str, Any] = {"format": "lesion-timeline/1", "patients": [{
    "id": "P-0001", "birth_year": 1968, "sex": "F", "lesions": [
        {"id": "L1", "entity": "hadd",
         "site": {"compartment": "tendon", "region": "shoulder", "structure": "supraspinatus",
                  "laterality": "right"},
         "observations": [
             {"date": "2024-01-10", "modality": "XR", "size_mm": [14, 8], "density": "dense",
              "margin": "well_defined", "texture": "homogeneous", "pattern": "nodular",
              "study_uid": "1.2.840.99.1", "accession": "ACC-7"},
             {"date": "2024-06-10", "modality": "XR", "size_mm": [14], "density": "dense",
              "margin": "well_defined"},
             {"date": "2024-12-10", "modality": "XR", "size_mm": [14.5], "density": "dense",
              "margin": "well_defined", "features": ["intrabursal_migration"]}]},
        {"id": "L2", "site": {"compartment": "spine", "region": "cervical_spine",
                              "laterality": "midline"},
         "observations": [{"date": "2024-02-01", "modality": "CT", "visible": False}]}]}]}


def resources(bundle: Bundle, kind: str) -> list[Any]:
    return [e.resource for e in bundle.entry if e.resource.get_resource_type() == kind]


def test_bundle_parses_back_with_every_reference_inside(run: Any, tmp_path: Path) -> None:
    timeline = tmp_path / "t.json"
    timeline.write_text(json.dumps(TIMELINE))
    assert run("import", str(timeline)).exit_code == 0
    assert run("assess", "--all", "--as-of", "2025-01-01").exit_code == 0
    out = tmp_path / "bundle.json"
    result = run("export-fhir", "--patient", "P-0001", "-o", str(out))
    assert result.exit_code == 0, result.output

    bundle = Bundle.model_validate_json(out.read_text())   # every resource validates
    assert bundle.type == "collection"
    urls = {e.fullUrl for e in bundle.entry}
    assert len(urls) == len(bundle.entry)
    raw = json.loads(out.read_text())
    references = list(_references(raw))
    assert references and set(references) <= urls

    [patient] = resources(bundle, "Patient")
    assert patient.identifier[0].value == "P-0001" and patient.identifier[0].system == \
        SYSTEMS["patient-id"]
    assert patient.birthDate == "1968" or str(patient.birthDate) == "1968"
    assert patient.gender == "female"

    structures = {b.identifier[0].value: b for b in resources(bundle, "BodyStructure")}
    assert set(structures) == {"L1", "L2"}
    shoulder = structures["L1"].includedStructure[0]
    assert (shoulder.structure.coding[0].system, shoulder.structure.coding[0].code) == \
        (SNOMED, "16982005")
    assert shoulder.laterality.coding[0].code == "24028007"
    assert structures["L2"].includedStructure[0].laterality is None

    observations = resources(bundle, "Observation")
    measurements = [o for o in observations if o.code.coding[0].code == "longest_diameter"]
    stages = [o for o in observations if o.code.coding[0].code == "stage"]
    assert len(measurements) == 4 and len(stages) == 4
    first = next(m for m in measurements if str(m.effectiveDateTime) == "2024-01-10")
    assert (first.valueQuantity.value, first.valueQuantity.code,
            first.valueQuantity.system) == (14, "mm", "http://unitsofmeasure.org")
    kinds = {c.code.coding[0].code: c for c in first.component}
    assert kinds["density"].valueCodeableConcept.coding[0].code == "dense"
    assert kinds["diameter_2"].valueQuantity.value == 8
    assert first.category[0].coding[0].code == "imaging"
    studies = {str(st.started): st for st in resources(bundle, "ImagingStudy")}
    assert sorted(studies) == ["2024-01-10", "2024-02-01", "2024-06-10", "2024-12-10"]
    study = studies["2024-01-10"]  # every visit has its study; this one's UID is known
    assert [i.value for i in study.identifier] == ["urn:oid:1.2.840.99.1", "ACC-7"]
    assert study.identifier[0].system == "urn:dicom:uid"
    assert all(st.identifier is None for day, st in studies.items() if day != "2024-01-10")
    assert first.partOf[0].reference == _url_of(bundle, study)
    assert first.partOf[0].identifier.value == "urn:oid:1.2.840.99.1"
    assert all(m.derivedFrom is None and m.focus is None for m in measurements)
    assert {m.bodyStructure.reference for m in measurements} == {
        _url_of(bundle, structures["L1"]), _url_of(bundle, structures["L2"])}
    # the method is how the size was measured, not a software version
    assert [(c.system, c.code) for c in first.method.coding] == [
        (SNOMED, "363680008"), ("http://dicom.nema.org/resources/ontology/DCM", "DX")]
    stage_of_first = next(s for s in stages if s.derivedFrom[0].reference ==
                          _url_of(bundle, first))
    assert stage_of_first.valueCodeableConcept.coding[0].system == SYSTEMS["stage"]
    assert stage_of_first.component[0].code.coding[0].code == "confidence"
    assert stage_of_first.method is None
    [engine] = resources(bundle, "Device")
    assert stage_of_first.device.reference == _url_of(bundle, engine)
    assert engine.displayName == "calcitrack stage engine"
    assert [v.value for v in engine.version] == [ENGINE_VERSION, str(RULES_REVISION)]

    record = json.loads(run("show", "P-0001", "--json").output)
    open_alerts = sum(len(le["alerts"]) for le in record["lesions"])
    assert open_alerts >= 1
    assert len(resources(bundle, "Flag")) == open_alerts
    follow_ups = resources(bundle, "ServiceRequest")
    assert sorted(str(s.occurrenceDateTime) for s in follow_ups) == sorted(
        le["assessment"]["next_follow_up"] for le in record["lesions"])


def test_profiles_reports_and_the_hospital_identifier(run: Any, tmp_path: Path,
                                                     monkeypatch: Any) -> None:
    """What an independent check of the bundle asked for: the patient under the hospital's
    record-number namespace, a DiagnosticReport per visit day grouping its results, and a
    profile claimed only where the resource meets it."""
    timeline = tmp_path / "t.json"
    timeline.write_text(json.dumps(TIMELINE))
    assert run("import", str(timeline)).exit_code == 0
    assert run("assess", "--all", "--as-of", "2025-01-01").exit_code == 0
    monkeypatch.setenv("PATIENT_IDENTIFIER_SYSTEM", "https://hospital.example/fhir/mrn")
    bundle = Bundle.model_validate_json(run("export-fhir", "--patient", "P-0001").output)

    [patient] = resources(bundle, "Patient")
    [identifier] = patient.identifier
    assert (identifier.system, identifier.value) == ("https://hospital.example/fhir/mrn", "P-0001")
    assert identifier.type.coding[0].code == "MR"

    reports = {str(r.effectiveDateTime): r for r in resources(bundle, "DiagnosticReport")}
    assert sorted(reports) == ["2024-01-10", "2024-02-01", "2024-06-10", "2024-12-10"]
    january = reports["2024-01-10"]
    results = [next(e.resource for e in bundle.entry if e.fullUrl == r.reference)
               for r in january.result]
    assert sorted(o.code.coding[0].code for o in results) == ["longest_diameter", "stage"]
    assert [s.reference for s in january.study] == [
        e.fullUrl for e in bundle.entry if e.resource.get_resource_type() == "ImagingStudy"
        and str(e.resource.started) == "2024-01-10"]
    assert january.code.coding[0].code == "18748-4"

    profiled = {e.resource.get_resource_type(): e.resource.meta.profile
                for e in bundle.entry if e.resource.meta is not None}
    assert profiled == {"BodyStructure": [PROFILES["dicom-sr-finding-site"]],
                        "Device": [PROFILES["algorithm-identification"]],
                        "Observation": [PROFILES["imaging-qualitative-evaluation"]]}
    stages = [o for o in resources(bundle, "Observation") if o.code.coding[0].code == "stage"]
    claimed = [o for o in stages if o.meta is not None]
    [with_uid] = claimed  # only January's visit has a study UID: the profile needs the study
    assert str(with_uid.effectiveDateTime) == "2024-01-10" and with_uid.issued is not None
    assert [c.coding[0].code for c in with_uid.category] == ["imaging", "C0034375"]
    [shoulder] = [b for b in resources(bundle, "BodyStructure") if b.identifier[0].value == "L1"]
    assert [i.type.coding[0].code for i in shoulder.identifier[1:]] == ["112039"]

    monkeypatch.setenv("PATIENT_IDENTIFIER_SYSTEM", "hospital mrn")
    bad = run("export-fhir", "--patient", "P-0001")
    assert bad.exit_code == 2 and "PATIENT_IDENTIFIER_SYSTEM: must be an absolute URI" in bad.output


def test_every_patient_is_one_bundle_per_line(run: Any, tmp_path: Path) -> None:
    doc = json.loads(json.dumps(TIMELINE))
    doc["patients"].append({**doc["patients"][0], "id": "P-0002"})
    timeline = tmp_path / "t.json"
    timeline.write_text(json.dumps(doc))
    assert run("import", str(timeline)).exit_code == 0
    result = run("export-fhir")
    lines = result.output.splitlines()
    assert [Bundle.model_validate_json(line).identifier.value for line in lines] == [
        "P-0001", "P-0002"]


def test_unknown_patient_is_an_error(run: Any) -> None:
    result = run("export-fhir", "--patient", "NOPE")
    assert result.exit_code == 1
    assert "patient NOPE does not exist" in result.output


def _url_of(bundle: Bundle, resource: Any) -> str:
    return next(e.fullUrl for e in bundle.entry if e.resource is resource)


def _references(value: Any) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference":
                yield item
            else:
                yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)
