"""The daily scan reads the due index (`recheck_on`, ended snoozes, stale lesions) instead of
re-evaluating every lesion: over a random cohort of every family and many dates, with new
visits and snoozes along the way, it stores exactly what a full re-evaluation stores, and what
the engine says lesion by lesion."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from testkit.cohort import generate, insert_rows
from tests.conftest import migrated_postgres
from tracker.db import engine_for, session_factory, session_scope
from tracker.engine import infer
from tracker.facts import facts_of_row
from tracker.models import Alert, Lesion, Observation
from tracker.services.alerts import snooze_alert
from tracker.services.assessment.scan import due_lesions, reassess_all, scan_alerts
from tracker.services.records import record_observation
from tracker.timeline.models import ObservationIn
from tracker.vocabulary import AlertState

LESIONS = 80
DATES = 24
SEED = 20261125


@pytest.fixture
def reference_url(database_url: str, tmp_path: Path,
                  request: pytest.FixtureRequest) -> Iterator[str]:
    """A second database on the same engine, for the full re-evaluation."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path}/reference.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "reference.sqlite")
        yield url
        engine_for(url).dispose()
        return
    yield from migrated_postgres(request.getfixturevalue("postgres_template"))


def stored(url: str) -> dict[str, Any]:
    """Everything a clinician sees that time can change: uncleared alerts with their state,
    and each lesion's follow-up date and stage."""
    with session_scope(url) as s:
        alerts = {
            (a.lesion_id, a.kind, a.severity, a.since, a.reason, a.state, a.snoozed_until)
            for a in s.scalars(select(Alert).where(Alert.state != AlertState.CLEARED.value))
        }
        lesions = {
            row.id: (row.next_follow_up, row.current_stage, row.assessed_version)
            for row in s.execute(select(Lesion.id, Lesion.next_follow_up, Lesion.current_stage,
                                        Lesion.assessed_version))
        }
    return {"alerts": alerts, "lesions": lesions}


def engine_alerts(url: str, as_of: date) -> set[tuple[Any, ...]]:
    with session_scope(url) as s:
        lesions = s.scalars(select(Lesion).options(
            selectinload(Lesion.observations).selectinload(Observation.feature_rows),
            selectinload(Lesion.treatments)))
        return {(le.id, a.kind.value, a.since, a.reason)
                for le in lesions for a in infer(facts_of_row(le), as_of).alerts}


def new_visit(rng: random.Random, day: date) -> ObservationIn:
    size = round(rng.uniform(3, 30), 1)
    if rng.random() < 0.2:
        return ObservationIn.model_validate({"date": day.isoformat(), "modality": "XR",
                                             "visible": False})
    return ObservationIn.model_validate({
        "date": day.isoformat(), "modality": "XR", "size_mm": [size],
        "density": rng.choice(["faint", "moderate", "dense"]),
        "margin": rng.choice(["well_defined", "ill_defined"]),
        "texture": "heterogeneous", "pattern": "cloud",
    })


@pytest.mark.slow
def test_scan_with_the_due_index_stores_what_a_full_re_evaluation_stores(
    database_url: str, reference_url: str
) -> None:
    cohort = generate(LESIONS, seed=SEED, start=date(2022, 1, 3), span_days=400)
    insert_rows(database_url, cohort)
    insert_rows(reference_url, cohort)
    rng = random.Random(SEED)
    as_of = date(2022, 2, 1)
    indexed = session_factory(database_url)
    full = session_factory(reference_url)
    assessed_by_scan = 0
    for step in range(DATES):
        # Now and then a new visit (the same in both databases) or a snooze of an open alert.
        if step % 4 == 1:
            lesion_id = rng.randrange(1, LESIONS + 1)
            visit = new_visit(rng, as_of)
            for sessions in (indexed, full):
                with sessions() as s:
                    if s.scalar(select(Observation.id).where(
                            Observation.lesion_id == lesion_id,
                            Observation.date >= as_of)) is None:
                        record_observation(s, lesion_id, visit, actor="test")
        if step % 5 == 2:
            with indexed() as s:
                key = s.execute(select(Alert.lesion_id, Alert.kind).where(
                    Alert.state == AlertState.OPEN.value).order_by(Alert.id)).first()
            if key is not None:
                until = as_of + timedelta(days=rng.randint(1, 40))
                for sessions in (indexed, full):
                    with sessions() as s:
                        alert_id = s.scalar(select(Alert.id).where(
                            Alert.lesion_id == key[0], Alert.kind == key[1],
                            Alert.state == AlertState.OPEN.value))
                        assert alert_id is not None
                        snooze_alert(s, alert_id, until, actor="test", reason="seen in clinic",
                                     today=as_of)

        due = len(due_lesions(indexed(), as_of))
        with indexed() as s:
            report = scan_alerts(s, as_of, chunk_size=50)
        with full() as s:
            reassess_all(s, as_of, chunk_size=50)
        assert report.failed == []
        assert report.lesions == due
        if step:
            assessed_by_scan += report.lesions

        assert stored(database_url) == stored(reference_url), f"differs on {as_of}"
        engine = engine_alerts(database_url, as_of)
        got = {(a[0], a[1], a[3], a[4]) for a in stored(database_url)["alerts"]}
        assert got == engine, f"stored alerts differ from the engine's on {as_of}"
        as_of += timedelta(days=rng.choice([1, 1, 2, 7, 20, 35, 60]))

    # The index did its job: far fewer lesion assessments than a scan of everything.
    assert assessed_by_scan < (DATES - 1) * LESIONS / 3
