"""Seed what the engine and workers would write (assessments, transitions, alerts), so the
web tests do not depend on them; plus users of each role."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from testkit.factories import make_lesion, make_patient, obs
from tracker import alert_counts
from tracker.alert_columns import sync_alert_columns
from tracker.models import Alert, Assessment, Lesion, Patient, Transition, Treatment
from tracker.services.cohort_subjects import refresh_cohort_subjects
from tracker.services.users import create_user
from tracker.summaries import refresh_patient_summaries

PASSWORD = "correct-horse-battery"
ROLES = ("clinician", "radiologist", "admin")
WHEN = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def make_users(session: Session) -> None:
    for role in ROLES:
        create_user(session, role, PASSWORD, role, actor="test")


def assess(
    session: Session,
    lesion_id: int,
    stages: list[str],
    *,
    alerts: list[dict[str, Any]] = (),  # type: ignore[assignment]
    transitions: list[dict[str, Any]] = (),  # type: ignore[assignment]
    entity: str | None = None,
    suggestions: list[dict[str, Any]] | None = None,
    next_follow_up: date | None = None,
    classifications: dict[str, str] | None = None,
    responses: list[dict[str, Any] | None] | None = None,
) -> None:
    """Store an assessment of the lesion's current data, as the worker would."""
    lesion = session.scalar(
        select(Lesion).where(Lesion.id == lesion_id).options(selectinload(Lesion.observations))
    )
    assert lesion is not None
    session.execute(delete(Assessment).where(Assessment.lesion_id == lesion.id))
    for i, (o, stage) in enumerate(zip(lesion.observations, stages, strict=True)):
        session.add(Assessment(observation_id=o.id, lesion_id=lesion.id, stage=stage,
                               confidence=0.8, evidence=[f"{stage} evidence", "dense"],
                               classifications=classifications or {}, engine_version="test-1",
                               rules_revision=2, response=responses[i] if responses else None,
                               assessed_at=WHEN))
    for t in transitions:
        session.add(Transition(lesion_id=lesion.id, **t))
    for a in alerts:
        session.add(Alert(lesion_id=lesion.id, **{"rule": f"test.{a['kind']}",
                                                   "reason": f"reason for {a['kind']}", **a}))
    lesion.assessed_version = lesion.data_version
    lesion.assessment_due_at = None
    lesion.assessed_at = WHEN
    lesion.engine_version = "test-1"
    lesion.rules_revision = 2
    lesion.current_stage = stages[-1]
    lesion.assessed_entity = entity or lesion.entity
    lesion.entity_source = "given" if lesion.entity else "suggested"
    lesion.suggestions = suggestions
    lesion.next_follow_up = next_follow_up
    # what the assessment's writer does beside its alerts: the worklist's copies, the counts
    session.flush()
    sync_alert_columns(session, [lesion.id])
    alert_counts.rebuild(session)
    refresh_patient_summaries(session, [lesion.patient_id])
    refresh_cohort_subjects(session, [lesion.id])  # the assessment's own cohort row
    session.commit()


def seed_patient(session: Session, external_id: str = "P-0001", lesions: int = 2) -> list[int]:
    """A patient with `lesions` HADD lesions; the first assessed with a warning alert."""
    patient = make_patient(session, external_id, birth_year=1968, sex="F")
    ids = []
    for i in range(lesions):
        lesion = make_lesion(
            session, patient=patient, external_id=f"L{i + 1}",
            observations=[obs("2024-01-10", 14), obs("2024-03-02", 9, "faint", "ill_defined"),
                          obs("2024-09-15", 9.5, modality="US")],
        )
        ids.append(lesion.id)
        if i % 2 == 0:
            assess(
                session, lesion.id, ["formative", "resorptive", "resorptive"],
                alerts=[{"kind": "no_resolution", "severity": "warning",
                         "since": date(2024, 9, 15)}],
                transitions=[{"date": date(2024, 3, 2), "from_stage": "formative",
                              "to_stage": "resorptive", "evidence": ["size -36%", "ill_defined"]}],
                next_follow_up=date(2025, 3, 1),
                classifications={"gartner": "I", "sfa": "A", "bosworth": "medium"},
            )
    return ids


LAVAGE_NOTE = "US-guided, two needles <b>"


def seed_treated_lesion(session: Session, external_id: str = "P-0002") -> int:
    """A right supraspinatus deposit lavaged in January and re-imaged twice, assessed with the
    responses and the no-treatment-response alert the rules give (§7a, §4)."""
    patient = make_patient(session, external_id, birth_year=1971, sex="M")
    lesion = make_lesion(
        session, patient=patient, external_id="L1",
        observations=[obs("2024-01-10", 14), obs("2024-04-29", 12.0),
                      obs("2024-06-02", 13.0, "moderate", "ill_defined"),
                      {**obs("2024-07-01", 12.5), "density": None, "margin": None,
                       "texture": None, "pattern": None, "study_uid": "1.2.840.113619.2.1",
                       "accession": "RX123"}],
        treatments=[("2024-01-22", "lavage"), ("2024-01-22", "eswt")],
    )
    for t in session.scalars(select(Treatment).where(Treatment.kind == "lavage")):
        t.note = LAVAGE_NOTE
    session.commit()
    base = {"baseline": "2024-01-10"}
    assess(
        session, lesion.id, ["formative", "resting", "resting", "resting"],
        responses=[None,
                   {**base, "change_pct": -14.3, "nadir_change_pct": -14.3, "category": "stable"},
                   {**base, "change_pct": -7.1, "nadir_change_pct": 8.3, "category": "stable"},
                   {**base, "change_pct": -10.7, "nadir_change_pct": 4.2, "category": "stable"}],
        alerts=[{"kind": "no_treatment_response", "severity": "warning",
                 "since": date(2024, 4, 29), "rule": "hadd.no_treatment_response",
                 "reason": "deposit 12.0 mm 3 months after lavage (14.0 mm before): "
                           "less than 30% smaller"}],
        next_follow_up=date(2024, 10, 29),
    )
    return lesion.id


def seed_ho_lesion(session: Session, patient_id: str = "P-0001", *, visits: int = 2) -> int:
    """A left hip heterotopic ossification after arthroplasty (its lesion table has the most
    columns), with 2 or 3 visits maturing from cloud to bone."""
    patient = session.scalar(select(Patient).where(Patient.external_id == patient_id))
    films = [obs("2024-01-10", 30, "faint", "ill_defined", pattern="cloud"),
             obs("2024-04-10", 32, "moderate", "ill_defined", pattern="cloud",
                 features=("zonal_peripheral",)),
             obs("2024-09-10", 31, "dense", "well_defined", pattern="bone",
                 features=("bone_organization",))]
    lesion = make_lesion(session, patient=patient, external_id="HO1",
                         compartment="soft_tissue", region="hip", structure=None,
                         laterality="left", entity="ho", event_date=date(2023, 11, 1),
                         event_kind="arthroplasty", observations=films[:visits])
    session.commit()
    return lesion.id


def seed_held_report(session: Session, patient: str = "P-0001") -> int:
    """A measurement report of a new deposit at the right shoulder of a patient who has
    lesions there (seed_patient's), held in the inbox: which lesion is it? Its id."""
    from io import BytesIO

    from pydicom import dcmwrite

    from testkit.dicom import Finding, measurement_report, radiograph
    from tracker.pacs.models import ReportSource
    from tracker.services.reports import ReportFile, import_report_files

    report = measurement_report([Finding(radiograph(patient_id=patient, study_date="20240901"))])
    data = BytesIO()
    dcmwrite(data, report)
    done = import_report_files(session, [ReportFile("viewer.dcm", data.getvalue())],
                               actor="radiologist", today=date(2025, 1, 1),
                               source=ReportSource.UPLOAD, hold=True)
    assert len(done.held) == 1, done
    return done.held[0]


def seed_key_image(session: Session, observation_id: int) -> int:
    """A key image (with a polyline mark) of an observation, as a report would leave it; no
    image behind it in any PACS. Its id."""
    from tracker.pacs.models import KeyImage, ReportSource, ReportState, SrReport

    report = SrReport(sop_instance_uid=f"2.25.{observation_id}1", study_uid="2.25.1",
                      series_uid="2.25.2", sop_class_uid="1.2.840.10008.5.1.4.1.1.1.1",
                      source=ReportSource.UPLOAD.value, state=ReportState.IMPORTED.value)
    session.add(report)
    session.flush()
    image = KeyImage(observation_id=observation_id, report_id=report.id, study_uid="2.25.1",
                     series_uid="2.25.2", sop_instance_uid="2.25.3",
                     sop_class_uid=report.sop_class_uid, graphic_type="POLYLINE",
                     graphic_data=[[10, 10], [40, 40]], measured_mm=9.0)
    session.add(image)
    session.commit()
    return image.id
