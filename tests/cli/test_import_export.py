"""`tracker import / export / show / schema` as a user runs them, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tracker import demo, models
from tracker.db import session_factory

BAD = Path(__file__).resolve().parents[1] / "bad_inputs"
EXPECTED_PATHS: dict[str, str] = json.loads((BAD / "expected_paths.json").read_text())
TABLES = [models.Patient, models.Lesion, models.Observation, models.ObservationFeature,
          models.AuditEvent, models.Assessment, models.Alert]


def row_counts(url: str) -> dict[str, int]:
    with session_factory(url)() as s:
        return {t.__tablename__: s.scalar(select(func.count()).select_from(t)) or 0
                for t in TABLES}


def normalised(doc: dict[str, Any]) -> dict[str, Any]:
    """Order-normalised timeline with defaults dropped, as the format defines equality."""
    def obs(o: dict[str, Any]) -> dict[str, Any]:
        o = {k: v for k, v in o.items() if v is not None}
        if o.get("visible", True) is True:
            o.pop("visible", None)
        if not o.get("features"):
            o.pop("features", None)
        if "size_mm" in o:
            o["size_mm"] = [float(x) for x in o["size_mm"]]
        return o

    def lesion(le: dict[str, Any]) -> dict[str, Any]:
        le = {k: v for k, v in le.items() if v is not None}
        le["site"] = {k: v for k, v in le["site"].items() if v is not None}
        le["observations"] = sorted((obs(o) for o in le["observations"]),
                                    key=lambda o: o["date"])
        return le

    patients = []
    for p in doc["patients"]:
        p = {k: v for k, v in p.items() if v is not None}
        p["lesions"] = sorted((lesion(le) for le in p["lesions"]), key=lambda le: le["id"])
        patients.append(p)
    return {"format": doc["format"], "patients": sorted(patients, key=lambda p: p["id"])}


def write(tmp_path: Path, doc: dict[str, Any], name: str = "t.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def demo_patients(n: int) -> dict[str, Any]:
    """The first `n` patients of the demo cohort, dated as of today."""
    doc = demo.document(date.today())
    doc["patients"] = doc["patients"][:n]
    return doc


def test_demo_cohort_round_trips(run: Any, tmp_path: Path) -> None:
    doc = demo.document(date.today())
    first = run("import", write(tmp_path, doc))
    assert first.exit_code == 0, first.output
    out = tmp_path / "export.json"
    assert run("export", "-o", str(out)).exit_code == 0
    assert normalised(json.loads(out.read_text())) == normalised(doc)


def test_vignettes_round_trip(run: Any, tmp_path: Path, shared_dir: Path) -> None:
    files = sorted((shared_dir / "vignettes").glob("*.timeline.json"))
    assert files, "no vignette timelines found"
    for f in files:
        doc = json.loads(f.read_text())
        assert run("import", str(f)).exit_code == 0
        for p in doc["patients"]:
            res = run("export", "--patient", p["id"])
            assert res.exit_code == 0
            got = json.loads(res.output)
            assert normalised(got) == normalised({"format": doc["format"], "patients": [p]})


def test_reimport_changes_nothing_and_update_is_audited(
    run: Any, tmp_path: Path, database_url: str
) -> None:
    doc = demo_patients(20)
    path = write(tmp_path, doc)
    assert run("import", path).exit_code == 0
    before = row_counts(database_url)
    again = run("import", path)
    assert again.exit_code == 0
    summary = json.loads(again.output)
    assert summary["observations_created"] == 0 and summary["observations_updated"] == 0
    assert row_counts(database_url) == before

    changed = json.loads(json.dumps(doc))
    target = changed["patients"][1]["lesions"][0]["observations"][0]
    old_size = target["size_mm"][0]
    target["size_mm"] = [old_size + 3]
    res = run("import", write(tmp_path, changed, "changed.json"))
    assert json.loads(res.output)["observations_updated"] == 1
    with session_factory(database_url)() as s:
        events = s.scalars(select(models.AuditEvent).where(
            models.AuditEvent.action == "observation.update")).all()
    assert len(events) == 1
    assert events[0].before is not None and events[0].after is not None
    assert events[0].before["size_mm"] == [old_size]
    assert events[0].after["size_mm"] == [old_size + 3]
    assert events[0].actor == "cli"


def test_bad_input_is_rejected_with_its_path_and_writes_nothing(
    run: Any, database_url: str, tmp_path: Path
) -> None:
    """Every file of tests/bad_inputs, against one database that already holds something (so
    "writes nothing" is checked against a non-empty one); every case failing is listed."""
    assert run("import", write(tmp_path, demo_patients(2), "seed.json")).exit_code == 0
    before = row_counts(database_url)
    failures = []
    for name, path in sorted(EXPECTED_PATHS.items()):
        res = run("import", str(BAD / name))
        if res.exit_code != 2 or path not in res.stderr:
            failures.append(f"{name}: exit {res.exit_code}, expected {path!r} in {res.stderr!r}")
        if row_counts(database_url) != before:
            failures.append(f"{name}: wrote rows")
            before = row_counts(database_url)
    assert not failures, "\n".join(failures)
    assert len(EXPECTED_PATHS) == len(list(BAD.glob("*.json"))) - 1  # every file has its path


def test_every_problem_is_reported_at_once(run: Any, tmp_path: Path) -> None:
    res = run("import", str(BAD / "size_four_numbers.json"))
    assert "at most 3 allowed" in res.stderr
    doc = json.loads((BAD / "size_four_numbers.json").read_text())
    doc["patients"][0]["lesions"][0]["observations"][1]["density"] = "bright"
    doc["patients"][0]["sex"] = "Q"
    res = run("import", write(tmp_path, doc, "many.json"))
    assert res.exit_code == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 3, res.stderr


def test_size_message_names_the_value_and_the_limit(run: Any) -> None:
    res = run("import", str(BAD / "size_501.json"))
    assert ("patients[0].lesions[0].observations[0].size_mm[0]: 501 is above 500"
            in res.stderr)


def test_oversized_file_is_rejected(run: Any, tmp_path: Path, database_url: str) -> None:
    big = tmp_path / "big.json"
    pad = "x" * 1000
    with big.open("w") as f:  # a 20 MB timeline
        f.write('{"format": "lesion-timeline/1", "patients": [')
        f.write(",".join(f'{{"id": "P{i}", "lesions": [], "pad": "{pad}"}}'
                         for i in range(20_000)))
        f.write("]}")
    assert big.stat().st_size > 20_000_000
    before = row_counts(database_url)
    res = run("import", str(big))
    assert res.exit_code == 2
    assert "limit" in res.stderr and str(big) in res.stderr
    assert row_counts(database_url) == before


def test_show_prints_pending_until_assessed(run: Any, tmp_path: Path) -> None:
    doc = demo_patients(20)
    lesion = doc["patients"][1]["lesions"][0]
    lesion["treatments"] = [{"date": lesion["observations"][0]["date"], "kind": "lavage",
                             "note": "two needles"}]
    assert run("import", write(tmp_path, doc)).exit_code == 0
    res = run("show", "DEMO-002", "--json")
    assert res.exit_code == 0
    record = json.loads(res.output)
    assert record["patient"] == "DEMO-002"
    stages = [o["stage"] for le in record["lesions"] for o in le["observations"]]
    assert stages and set(stages) == {"pending"}
    text = run("show", "DEMO-002")
    assert "Lesion L1" in text.output and "pending" in text.output
    first = lesion["observations"][0]["date"]
    shown = text.output.split("Lesion L1")[1].splitlines()
    treated = f"    {first} treated: US-guided needling / lavage (barbotage) (two needles)"
    assert treated in shown  # by date, after that day's film
    assert shown.index(treated) == next(
        i for i, line in enumerate(shown) if line.startswith(f"    {first} ")) + 1
    missing = run("show", "NOPE")
    assert missing.exit_code == 1 and "NOPE" in missing.stderr


def test_schema_is_generated_and_rejects_unknown_keys(run: Any) -> None:
    res = run("schema")
    schema = json.loads(res.output)
    assert schema["properties"]["format"]["const"] == "lesion-timeline/1"
    assert schema["additionalProperties"] is False
    obs = schema["$defs"]["ObservationIn"]
    assert obs["additionalProperties"] is False
    assert "size_mm" in obs["properties"]


def test_import_of_a_missing_file_says_so(run: Any) -> None:
    res = run("import", "/nonexistent/timeline.json")
    assert res.exit_code == 2 and "no such file" in res.stderr


def _session(url: str) -> Session:
    return session_factory(url)()


def _refused_birth_year(run: Any, tmp_path: Path, database_url: str, patient: str,
                        year: int) -> str:
    """Import a file that only gives `patient` a new birth year: refused with exit 2 and
    nothing written. Returns what it printed."""
    before = row_counts(database_url)
    later = {"format": "lesion-timeline/1",
             "patients": [{"id": patient, "birth_year": year, "lesions": []}]}
    res = run("import", write(tmp_path, later, "later.json"))
    assert res.exit_code == 2
    assert row_counts(database_url) == before
    return str(res.stderr)


def test_birth_year_after_stored_visits_is_refused_so_the_backup_stays_valid(
    run: Any, tmp_path: Path, database_url: str
) -> None:
    """A later file that only corrects the birth year must not make the stored visits
    impossible: the export (the backup) would then no longer import."""
    site = {"compartment": "tendon", "region": "shoulder", "laterality": "left"}
    first = {"format": "lesion-timeline/1", "patients": [{
        "id": "P-1", "birth_year": 1970, "lesions": [{
            "id": "L1", "site": site, "observations": [
                {"date": "2020-05-01", "modality": "XR", "size_mm": [9], "density": "dense",
                 "margin": "well_defined"}]}]}]}
    assert run("import", write(tmp_path, first, "first.json")).exit_code == 0
    errors = _refused_birth_year(run, tmp_path, database_url, "P-1", 2021)
    assert "patients[0].birth_year: 2021 is after the stored observation of 2020-05-01" in errors
    backup = tmp_path / "backup.json"
    assert run("export", "-o", str(backup)).exit_code == 0
    assert run("import", str(backup)).exit_code == 0


@pytest.mark.parametrize(("failure", "exit_code", "says"), [
    (OSError(28, "No space left on device"), 2, "No space left on device"),
    (OperationalError("SELECT", {}, Exception("server closed the connection")), 3,
     "database unavailable"),
])
def test_an_export_that_fails_midway_leaves_the_previous_backup_as_it_was(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception,
    exit_code: int, says: str,
) -> None:
    import tracker.cli.timelines

    backup = tmp_path / "backup.json"
    backup.write_text("yesterday's backup")

    def broken(_session: Any, **_options: Any) -> Any:
        yield '{\n  "format": "lesion-timeline/1",\n  "patients": [\n'
        raise failure

    monkeypatch.setattr(tracker.cli.timelines, "export_text", broken)
    res = run("export", "-o", str(backup))
    assert res.exit_code == exit_code and says in res.stderr, res.stderr
    assert backup.read_text() == "yesterday's backup"
    assert list(tmp_path.glob("*.partial")) == []


def test_export_to_a_folder_that_does_not_exist_says_so(run: Any, tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "backup.json"
    res = run("export", "-o", str(target))
    assert res.exit_code == 2
    assert f"{target}: cannot be written: No such file or directory" in res.stderr


def _revision_2_patient() -> dict[str, Any]:
    """Every field of the format's second revision, in the order and form export writes."""
    return {
        "id": "P-R2", "birth_year": 1961, "sex": "F",
        "lesions": [
            {"id": "L1",
             "site": {"compartment": "tendon", "region": "shoulder",
                      "structure": "supraspinatus", "laterality": "right"},
             "entity": "hadd",
             "treatments": [
                 {"date": "2024-01-22", "kind": "lavage", "note": "US-guided, two needles"},
                 {"date": "2024-01-22", "kind": "nsaid"},
                 {"date": "2024-03-05", "kind": "eswt"}],
             "observations": [
                 {"date": "2024-01-10", "modality": "XR", "size_mm": [14.0, 8.0],
                  "density": "dense", "margin": "well_defined", "pain": 3,
                  "study_uid": "1.2.840.113619.2.55.3", "accession": "ACC-0001",
                  "note": "baseline"},
                 {"date": "2024-04-02", "modality": "US", "size_mm": [9.5]}]},
            {"id": "L2",
             "site": {"compartment": "soft_tissue", "region": "thigh", "laterality": "left"},
             "entity": "ho", "event_date": "2023-06-01", "event_kind": "trauma",
             "observations": [
                 {"date": "2023-08-01", "modality": "XR", "size_mm": [30.0],
                  "density": "faint", "margin": "ill_defined"}]},
        ],
    }


def test_revision_2_fields_round_trip_byte_for_byte(run: Any, tmp_path: Path) -> None:
    doc = {"format": "lesion-timeline/1", "patients": [_revision_2_patient()]}
    source = tmp_path / "r2.json"
    source.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert run("import", str(source)).exit_code == 0
    out = tmp_path / "export.json"
    assert run("export", "-o", str(out)).exit_code == 0
    assert out.read_bytes() == source.read_bytes()
    again = run("import", str(out))
    assert json.loads(again.output)["observations_unchanged"] == 3


def test_treatments_are_exported_by_date_then_kind_and_changes_are_audited(
    run: Any, tmp_path: Path, database_url: str
) -> None:
    patient = _revision_2_patient()
    treatments = patient["lesions"][0]["treatments"]
    patient["lesions"][0]["treatments"] = [treatments[2], treatments[1], treatments[0]]
    doc = {"format": "lesion-timeline/1", "patients": [patient]}
    assert run("import", write(tmp_path, doc)).exit_code == 0
    exported = json.loads(run("export").output)
    assert exported["patients"][0]["lesions"][0]["treatments"] == treatments
    assert "treatments" not in exported["patients"][0]["lesions"][1]

    with _session(database_url) as s:
        lesion = s.scalars(select(models.Lesion).where(models.Lesion.external_id == "L1")).one()
        version = lesion.data_version
    changed = json.loads(json.dumps(doc))
    changed["patients"][0]["lesions"][0]["treatments"][0]["note"] = "second session"
    changed["patients"][0]["lesions"][0]["treatments"].append(
        {"date": "2024-04-02", "kind": "injection"})
    res = run("import", write(tmp_path, changed, "changed.json"))
    assert res.exit_code == 0, res.output
    with _session(database_url) as s:
        events = s.scalars(select(models.AuditEvent).where(
            models.AuditEvent.target_type == "treatment").order_by(models.AuditEvent.id)).all()
        lesion = s.scalars(select(models.Lesion).where(models.Lesion.external_id == "L1")).one()
    updates = [e for e in events if e.action == "treatment.update"]
    assert len(updates) == 1
    assert updates[0].before == {"date": "2024-03-05", "kind": "eswt"}
    assert updates[0].after == {"date": "2024-03-05", "kind": "eswt", "note": "second session"}
    assert [e.after for e in events if e.action == "treatment.import"][-1] == {
        "date": "2024-04-02", "kind": "injection"}
    assert lesion.data_version == version + 1 and lesion.assessment_due_at is not None


def test_a_new_birth_year_after_a_stored_treatment_is_refused(
    run: Any, tmp_path: Path, database_url: str
) -> None:
    patient = _revision_2_patient()
    patient["lesions"] = patient["lesions"][:1]
    patient["lesions"][0]["observations"] = patient["lesions"][0]["observations"][1:]
    patient["lesions"][0]["treatments"][0]["date"] = "2023-12-20"
    assert run("import", write(tmp_path, {"format": "lesion-timeline/1",
                                          "patients": [patient]})).exit_code == 0
    errors = _refused_birth_year(run, tmp_path, database_url, "P-R2", 2024)
    assert ("patients[0].birth_year: 2024 is after the stored treatment of 2023-12-20"
            " (lesion L1)") in errors


def test_show_says_a_resolution_from_one_negative_film_is_unconfirmed(
        run: Any, tmp_path: Path) -> None:
    """One negative radiograph after a deposit: `tracker show` must not read as a confirmed
    resolution (the pages and the API say "Resolved (unconfirmed)")."""
    doc = {"format": "lesion-timeline/1", "patients": [{"id": "P-NEG", "lesions": [{
        "id": "L1", "entity": "hadd",
        "site": {"compartment": "tendon", "region": "shoulder", "laterality": "right",
                 "structure": "supraspinatus"},
        "observations": [
            {"date": "2024-01-10", "modality": "XR", "size_mm": [12], "density": "dense",
             "margin": "well_defined", "texture": "homogeneous"},
            {"date": "2024-05-10", "modality": "XR", "visible": False}]}]}]}
    assert run("import", write(tmp_path, doc)).exit_code == 0
    assert run("assess", "--patient", "P-NEG", "--as-of", "2024-05-20").exit_code == 0
    lines = run("show", "P-NEG").output.splitlines()
    assert any(line.strip().startswith("stage: resolved (unconfirmed)") for line in lines), lines
    assert any("2024-05-10" in line and "resolved (unconfirmed)" in line for line in lines), lines
    record = json.loads(run("show", "P-NEG", "--json").output)
    assert record["lesions"][0]["assessment"]["resolution"] == "unconfirmed"
