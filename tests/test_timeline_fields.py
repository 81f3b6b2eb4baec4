"""The revision-2 timeline fields (`event_kind`, `treatments`, `study_uid`, `accession`,
morphology not assessed) as timeline-format.md defines them. Bad files are in `bad_inputs/`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tracker.errors import InvalidInput
from tracker.timeline.models import json_schema
from tracker.timeline.reader import validate_timeline, validate_treatment
from tracker.vocabulary import EventKind, TreatmentKind

TODAY = date(2026, 11, 25)
BAD = Path(__file__).resolve().parent / "bad_inputs"
LESION = "patients[0].lesions[0]"


def timeline(**lesion: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format": "lesion-timeline/1",
        "patients": [{"id": "P-1", "birth_year": 1970, "lesions": [{
            "id": "L1",
            "site": {"compartment": "tendon", "region": "shoulder", "laterality": "right"},
            "entity": "hadd",
            "observations": [
                {"date": "2024-01-10", "modality": "XR", "size_mm": [14.0, 8.0],
                 "density": "dense", "margin": "well_defined"},
                {"date": "2024-04-29", "modality": "XR", "size_mm": [12.0]},
            ],
        }]}],
    }
    doc["patients"][0]["lesions"][0].update(lesion)
    return doc


def problems(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidInput) as exc:
        validate_timeline(doc, today=TODAY)
    return [str(p) for p in exc.value.problems]


def test_the_format_example_lesion_is_accepted_with_every_new_field() -> None:
    doc = timeline(
        event_date="2024-01-02",
        event_kind="injection",
        treatments=[
            {"date": "2024-01-22", "kind": "lavage", "note": "US-guided, two needles"},
            {"date": "2024-01-22", "kind": "eswt"},  # same date, another kind
            {"date": "2024-04-29", "kind": "lavage"},  # same kind, another date; a visit's day
        ],
    )
    doc["patients"][0]["lesions"][0]["observations"][0].update(
        study_uid="1.2.840.113619.2.55.3.0", accession="RX-2024/0110")
    lesion = validate_timeline(doc, today=TODAY).patients[0].lesions[0]
    assert lesion.event_kind is EventKind.INJECTION
    assert [(str(t.date), t.kind) for t in lesion.treatments] == [
        ("2024-01-22", TreatmentKind.LAVAGE), ("2024-01-22", TreatmentKind.ESWT),
        ("2024-04-29", TreatmentKind.LAVAGE)]
    assert lesion.treatments[0].note == "US-guided, two needles"
    first = lesion.observations[0]
    assert (first.study_uid, first.accession) == ("1.2.840.113619.2.55.3.0", "RX-2024/0110")


def test_a_visible_observation_without_density_or_margin_is_not_assessed() -> None:
    second = validate_timeline(timeline(), today=TODAY).patients[0].lesions[0].observations[1]
    assert second.visible and second.size_mm == [12.0]
    assert second.density is None and second.margin is None


def test_null_new_fields_mean_absent() -> None:
    doc = timeline(event_date=None, event_kind=None, treatments=None)
    doc["patients"][0]["lesions"][0]["observations"][0].update(study_uid=None, accession=None)
    lesion = validate_timeline(doc, today=TODAY).patients[0].lesions[0]
    assert lesion.event_kind is None and lesion.treatments == []


@pytest.mark.parametrize("uid", ["0", "1.0.3", "2.25.329800735698586629295641978511506172918",
                                 "1." + "2" * 62])
def test_study_uids_dicom_allows(uid: str) -> None:
    doc = timeline()
    doc["patients"][0]["lesions"][0]["observations"][0]["study_uid"] = uid
    assert validate_timeline(doc, today=TODAY).patients[0].lesions[0].observations[0].study_uid \
        == uid


def test_event_kind_needs_event_date_even_when_the_treatments_are_fine() -> None:
    found = problems(timeline(event_kind="burn", treatments=[{"date": "2024-02-01",
                                                               "kind": "nsaid"}]))
    assert found == [f"{LESION}.event_kind: needs an event_date (the date of that event)"]


def test_treatment_date_rules_are_the_observation_date_rules() -> None:
    """One owner for dates: the same words for a treatment as for an observation."""
    doc = timeline(event_date="2024-01-05", treatments=[{"date": "2024-01-01", "kind": "eswt"}])
    doc["patients"][0]["lesions"][0]["observations"][0]["date"] = "2024-01-01"
    found = problems(doc)
    assert found == [
        f"{LESION}.observations[0].date: 2024-01-01 is before the lesion's event_date 2024-01-05",
        f"{LESION}.treatments[0].date: 2024-01-01 is before the lesion's event_date 2024-01-05",
    ]


def test_every_revision_1_file_stays_valid() -> None:
    """The bad-input corpus's seeds were revision-1 files: with their one defect repaired they
    pass; here, the revision-1 shape of the format's own example."""
    doc = timeline()
    doc["patients"][0]["lesions"][0]["observations"][1].update(density="dense",
                                                                margin="well_defined")
    validate_timeline(doc, today=TODAY)
    revision1 = json.loads((BAD / "date_before_event.json").read_text())
    del revision1["patients"][0]["lesions"][0]["event_date"]
    validate_timeline(revision1, today=TODAY)


def test_bad_input_corpus_names_each_new_rule() -> None:
    expected = json.loads((BAD / "expected_paths.json").read_text())
    for name in ("event_kind_without_date.json", "treatment_same_date_and_kind.json",
                 "study_uid_leading_zero.json", "accession_backslash.json"):
        assert name in expected
        raw = json.loads((BAD / name).read_text())
        found = problems(raw)
        assert any(expected[name] in p for p in found), found


def test_form_treatment_is_checked_like_a_file_treatment() -> None:
    ok = validate_treatment({"date": "2024-01-22", "kind": "lavage", "note": ""}, today=TODAY)
    assert ok.kind is TreatmentKind.LAVAGE and ok.note == ""
    with pytest.raises(InvalidInput) as exc:
        validate_treatment({"date": "2024-01-01", "kind": "massage"}, today=TODAY,
                           birth_year=1970, event_date=date(2024, 1, 5))
    assert [str(p) for p in exc.value.problems] == [
        "date: 2024-01-01 is before the lesion's event_date 2024-01-05",
        'kind: "massage" is not a treatment kind code (one of: lavage, eswt, injection, '
        "surgery, radiotherapy, nsaid)",
    ]


def test_schema_describes_the_new_fields() -> None:
    schema = json_schema()
    defs = schema["$defs"]
    lesion = defs["LesionIn"]["properties"]
    assert "event_kind" in lesion and "treatments" in lesion
    assert "observations" in defs["LesionIn"]["required"]
    assert "treatments" not in defs["LesionIn"].get("required", [])
    assert defs["TreatmentIn"]["required"] == ["date", "kind"]
    assert defs["TreatmentKind"]["enum"] == [k.value for k in TreatmentKind]
    assert defs["EventKind"]["enum"] == [k.value for k in EventKind]
    obs = defs["ObservationIn"]["properties"]
    uid = next(v for v in obs["study_uid"]["anyOf"] if v.get("type") == "string")
    assert uid["maxLength"] == 64 and "pattern" in uid
    acc = next(v for v in obs["accession"]["anyOf"] if v.get("type") == "string")
    assert acc["maxLength"] == 16
    assert "event_kind only with event_date" in schema["description"]

