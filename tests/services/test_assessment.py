"""The assessment service on SQLite and PostgreSQL: what it stores, that a rerun changes nothing,
that a clinician's acknowledgement or snooze survives re-assessment, and that alerts clear."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from testkit.factories import PERSISTENT, make_lesion, make_patient
from tracker.db import session_factory
from tracker.engine import ENGINE_VERSION, infer
from tracker.facts import facts_of_row
from tracker.models import Alert, Assessment, Lesion, Transition
from tracker.queries import to_assess
from tracker.queries.history import history
from tracker.queries.lookup import load_lesion
from tracker.queries.to_assess import stale_lesions
from tracker.services.alerts import acknowledge_alert, snooze_alert
from tracker.services.assessment import plan
from tracker.services.assessment.assess import assess_lesion
from tracker.services.assessment.load import LESIONS
from tracker.services.assessment.scan import scan_alerts
from tracker.services.assessment.sweep import mark_dispatched, sweep_pending
from tracker.services.records import record_observation
from tracker.timeline.models import ObservationIn

D = date.fromisoformat

# clinical-rules §8 example 2: a HADD deposit that does not resorb.

def record(session: Session, lesion_id: int, **fields: Any) -> None:
    """A new visit through the real writer (which sets the outbox mark)."""
    record_observation(session, lesion_id, ObservationIn.model_validate(fields), actor="test")


def stored(session: Session, lesion_id: int) -> dict[str, Any]:
    """Everything an assessment writes for a lesion, read fresh, for comparisons."""
    session.expire_all()
    lesion = session.get(Lesion, lesion_id)
    assert lesion is not None
    return {
        "lesion": {
            k: getattr(lesion, k)
            for k in ("current_stage", "assessed_entity", "entity_source", "suggestions",
                      "next_follow_up", "engine_version", "rules_revision", "assessed_version",
                      "assessed_at",
                      "assessment_due_at", "data_version")
        },
        "assessments": [
            (a.id, a.observation_id, a.stage, a.confidence, a.evidence, a.classifications,
             a.response, a.rules_revision, a.assessed_at)
            for a in session.scalars(
                select(Assessment).where(Assessment.lesion_id == lesion_id).order_by(Assessment.id)
            )
        ],
        "transitions": [
            (t.id, t.date, t.from_stage, t.to_stage, t.evidence, t.unexpected)
            for t in session.scalars(
                select(Transition).where(Transition.lesion_id == lesion_id).order_by(Transition.id)
            )
        ],
        "alerts": alerts_of(session, lesion_id),
    }


def alerts_of(session: Session, lesion_id: int) -> list[tuple[Any, ...]]:
    return [
        (a.id, a.kind, a.severity, a.since, a.reason, a.state, a.snoozed_until)
        for a in session.scalars(
            select(Alert).where(Alert.lesion_id == lesion_id).order_by(Alert.id)
        )
    ]


def test_assessment_is_stored_as_the_engine_says(session: Session) -> None:
    lesion = make_lesion(session, observations=PERSISTENT)
    as_of = D("2025-03-01")

    outcome = assess_lesion(session, lesion.id, as_of)

    assert outcome.changed and outcome.current and outcome.opened == 1
    # The assessment reads rows, not ORM objects, so it leaves no treatments loaded in this
    # session; this lesion has none.
    expected = infer(facts_of_row(load_lesion(session, lesion.id), treatments=[]), as_of)
    got = stored(session, lesion.id)
    assert [a[2] for a in got["assessments"]] == [s.stage.value for s in expected.stages]
    assert [a[3] for a in got["assessments"]] == [s.confidence for s in expected.stages]
    assert got["lesion"]["current_stage"] == "resting"
    assert got["lesion"]["next_follow_up"] == D("2025-07-20")
    assert got["lesion"]["engine_version"] == ENGINE_VERSION
    assert got["lesion"]["assessed_version"] == got["lesion"]["data_version"]
    assert got["lesion"]["assessment_due_at"] is None
    assert got["lesion"]["assessed_entity"] == "hadd"
    assert got["lesion"]["entity_source"] == "given"
    assert got["lesion"]["suggestions"][0]["entity"] == "hadd"
    assert len(got["transitions"]) == len(expected.transitions) == 1
    [alert] = got["alerts"]
    assert alert[1:6] == (
        "no_resolution", "warning", D("2024-07-15"),
        "calcific deposit 12.5 mm without resorption for 12 months (2024-01-10 → 2025-01-20)",
        "open",
    )


def test_rerun_changes_nothing(session: Session) -> None:
    lesion = make_lesion(session, observations=PERSISTENT)
    assess_lesion(session, lesion.id, D("2025-03-01"))
    first = stored(session, lesion.id)

    again = assess_lesion(session, lesion.id, D("2025-03-01"))

    assert not again.changed and again.kept == 1 and again.opened == again.cleared == 0
    assert stored(session, lesion.id) == first


def test_acknowledgement_survives_reassessment_and_reason_refreshes(session: Session) -> None:
    lesion = make_lesion(session, observations=PERSISTENT[:3])
    assess_lesion(session, lesion.id, D("2024-08-01"))
    [(alert_id, *_)] = alerts_of(session, lesion.id)
    acknowledge_alert(session, alert_id, actor="dr.who", reason="surgery booked")

    record(session, lesion.id, date="2025-01-20", modality="XR", size_mm=[12.5],
           density="dense", margin="well_defined", texture="homogeneous", pattern="nodular")
    outcome = assess_lesion(session, lesion.id, D("2025-03-01"))

    assert outcome.kept == 1 and outcome.opened == 0
    [(same_id, kind, _sev, since, reason, state, _)] = alerts_of(session, lesion.id)
    assert (same_id, kind, since, state) == (alert_id, "no_resolution", D("2024-07-15"),
                                             "acknowledged")
    assert "12 months" in reason
    a = session.get(Alert, alert_id)
    assert a is not None and a.state_by == "dr.who"


def test_snooze_holds_until_its_date_then_the_scan_reopens(session: Session) -> None:
    lesion = make_lesion(session, observations=PERSISTENT)
    assess_lesion(session, lesion.id, D("2025-03-01"))
    [(alert_id, *_)] = alerts_of(session, lesion.id)
    snooze_alert(session, alert_id, D("2025-04-01"), actor="dr.who", reason="on holiday",
                 today=D("2025-03-01"))

    assess_lesion(session, lesion.id, D("2025-03-15"))
    assert alerts_of(session, lesion.id)[0][5] == "snoozed"
    assert scan_alerts(session, D("2025-03-31")).reopened == 0  # the day before its date
    assert alerts_of(session, lesion.id)[0][5] == "snoozed"

    # On its date the snooze is over (the worklist and the header show the alert again): that
    # day's scan reopens it, so the patient list counts it the same day
    report = scan_alerts(session, D("2025-04-01"))

    assert report.reopened == 1 and report.kept == 1
    [(same_id, *_, state, snoozed_until)] = alerts_of(session, lesion.id)
    assert (same_id, state, snoozed_until) == (alert_id, "open", None)
    # On the lesion's and the patient's history pages, after the clinician's snooze.
    for scope in ({"lesion_id": lesion.id}, {"patient_id": lesion.patient_id}):
        actions = [e.event.action for e in history(session, **scope).items]
        assert actions[:2] == ["alert.snooze_ended", "alert.snooze"], scope


def test_alert_clears_when_the_deposit_resorbs(session: Session) -> None:
    lesion = make_lesion(session, observations=PERSISTENT)
    assess_lesion(session, lesion.id, D("2025-03-01"))
    [(alert_id, *_)] = alerts_of(session, lesion.id)
    acknowledge_alert(session, alert_id, actor="dr.who")

    record(session, lesion.id, date="2025-03-10", modality="XR", size_mm=[6.0],
           density="faint", margin="ill_defined", texture="heterogeneous", pattern="cloud")
    outcome = assess_lesion(session, lesion.id, D("2025-03-10"))

    assert outcome.cleared == 1
    a = session.get(Alert, alert_id)
    assert a is not None and a.state == "cleared" and a.cleared_at is not None
    assert session.get(Lesion, lesion.id).current_stage == "resorptive"  # type: ignore[union-attr]


def test_time_alone_opens_follow_up_overdue_in_the_scan(session: Session) -> None:
    lesion = make_lesion(session, observations=PERSISTENT)
    assess_lesion(session, lesion.id, D("2025-03-01"))

    report = scan_alerts(session, D("2025-09-01"))

    assert (report.opened, report.kept, report.cleared) == (1, 1, 0)
    kinds = {(a[1], a[3]) for a in alerts_of(session, lesion.id)}
    assert kinds == {("no_resolution", D("2024-07-15")),
                     ("follow_up_overdue", D("2025-07-21"))}
    again = scan_alerts(session, D("2025-09-01"))  # nothing is due twice on one day
    assert (again.lesions, again.opened, again.cleared, again.changed) == (0, 0, 0, 0)


def test_scan_assesses_lesions_whose_task_was_lost(session: Session) -> None:
    lesion = make_lesion(session, observations=PERSISTENT)  # marked, never assessed
    report = scan_alerts(session, D("2025-03-01"))
    assert report.changed == 1
    assert stored(session, lesion.id)["lesion"]["assessment_due_at"] is None


def test_mark_stays_when_data_changed_during_the_assessment(session: Session) -> None:
    lesion = make_lesion(session, observations=PERSISTENT)

    def another_writer() -> None:  # what a concurrent change leaves behind once it commits
        lesions = LESIONS
        session.execute(
            update(lesions)
            .where(lesions.c.id == lesion.id)
            .values(data_version=lesions.c.data_version + 1)
        )

    outcome = assess_lesion(session, lesion.id, D("2025-03-01"), after_lock=another_writer)

    assert not outcome.current
    got = stored(session, lesion.id)["lesion"]
    assert got["assessment_due_at"] is not None
    assert got["assessed_version"] == got["data_version"] - 1
    assert lesion.id in stale_lesions(session)


def test_stale_lesions(session: Session) -> None:
    patient = make_patient(session)
    never = make_lesion(session, observations=PERSISTENT[:1], external_id="L1", patient=patient)
    done = make_lesion(session, observations=PERSISTENT[:1], external_id="L2", patient=patient)
    assess_lesion(session, done.id, D("2025-03-01"))
    assert stale_lesions(session) == [never.id]

    session.execute(update(Lesion).where(Lesion.id == done.id).values(engine_version="0.0"))
    session.commit()
    assert stale_lesions(session) == [never.id, done.id]


def test_assessment_records_the_rules_revision_and_a_new_one_makes_it_stale(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    lesion = make_lesion(session, observations=PERSISTENT[:2])
    assess_lesion(session, lesion.id, D("2025-03-01"))
    got = stored(session, lesion.id)
    assert got["lesion"]["rules_revision"] == plan.RULES_REVISION
    assert {a[7] for a in got["assessments"]} == {plan.RULES_REVISION}
    assert stale_lesions(session) == []

    # a new engine implementing the next revision, as the writer and the stale query see it
    monkeypatch.setattr(plan, "RULES_REVISION", plan.RULES_REVISION + 1)
    monkeypatch.setattr(to_assess, "RULES_REVISION", plan.RULES_REVISION)
    assert stale_lesions(session) == [lesion.id]
    outcome = assess_lesion(session, lesion.id, D("2025-03-01"))
    assert outcome.changed
    got = stored(session, lesion.id)
    assert got["lesion"]["rules_revision"] == plan.RULES_REVISION
    assert {a[7] for a in got["assessments"]} == {plan.RULES_REVISION}
    assert stale_lesions(session) == []


def test_sweep_resends_only_what_was_never_sent_or_is_really_lost(session: Session) -> None:
    lesion = make_lesion(session, observations=PERSISTENT[:1])
    assert sweep_pending(session, 3600) == []
    assert lesion.assessment_due_at is not None
    lesion.assessment_due_at -= timedelta(minutes=5)  # changed five minutes ago, never sent
    session.commit()

    assert sweep_pending(session, 60, resend_after_seconds=3600) == [lesion.id]
    mark_dispatched(session, [lesion.id])  # what the sender does once the broker has it
    # Queued behind a backlog for a minute: not re-sent, however short the grace.
    assert sweep_pending(session, 0, resend_after_seconds=3600) == []
    # Handed over longer ago than resend_after: the broker lost it, send again.
    assert sweep_pending(session, 0, resend_after_seconds=0) == [lesion.id]

    # A change after the dispatch is a new outbox mark the queued task may not have seen.
    session.refresh(lesion)
    assert lesion.dispatched_at is not None
    lesion.dispatched_at = lesion.assessment_due_at - timedelta(seconds=1)
    session.commit()
    assert sweep_pending(session, 60, resend_after_seconds=3600) == [lesion.id]

    assess_lesion(session, lesion.id, D("2025-03-01"))
    assert sweep_pending(session, 0, resend_after_seconds=0) == []


def test_two_assessments_at_once_give_one_result(database_url: str) -> None:
    sessions = session_factory(database_url)
    with sessions() as s:
        lesion_id = make_lesion(s, observations=PERSISTENT).id
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    outcomes = []

    def run() -> None:
        try:
            with sessions() as s:
                barrier.wait()
                outcomes.append(assess_lesion(s, lesion_id, D("2025-09-01")))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert errors == []
    assert sorted(o.changed for o in outcomes) == [False, True]
    with sessions() as s:
        got = stored(s, lesion_id)
    assert len(got["assessments"]) == 4
    assert sorted(a[1] for a in got["alerts"]) == ["follow_up_overdue", "no_resolution"]
