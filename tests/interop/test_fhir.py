"""`tracker export-fhir`: a FHIR R5 collection Bundle that fhir.resources parses back whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fhir.resources.bundle import Bundle

from tracker.interop.fhir import SNOMED, SYSTEMS

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
    [study] = resources(bundle, "ImagingStudy")
    assert [i.value for i in study.identifier] == ["urn:oid:1.2.840.99.1", "ACC-7"]
    assert first.derivedFrom[0].reference == _url_of(bundle, study)
    assert all(m.derivedFrom is None for m in measurements if m is not first)
    stage_of_first = next(s for s in stages if s.derivedFrom[0].reference ==
                          _url_of(bundle, first))
    assert stage_of_first.valueCodeableConcept.coding[0].system == SYSTEMS["stage"]
    assert stage_of_first.component[0].code.coding[0].code == "confidence"
    assert stage_of_first.method.coding[0].code  # the engine version

    record = json.loads(run("show", "P-0001", "--json").output)
    open_alerts = sum(len(le["alerts"]) for le in record["lesions"])
    assert open_alerts >= 1
    assert len(resources(bundle, "Flag")) == open_alerts
    follow_ups = resources(bundle, "ServiceRequest")
    assert sorted(str(s.occurrenceDateTime) for s in follow_ups) == sorted(
        le["assessment"]["next_follow_up"] for le in record["lesions"])


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
