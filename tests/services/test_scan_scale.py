"""The daily scan on 400 lesions in ten chunks: set-based (statements per chunk, not per
lesion), reading only what is due, and in agreement with the engine run lesion by lesion.
Its speed at scale is measured in `bench/` (`make bench`), not here."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import selectinload

from testkit.statements import statements as statements_run
from tracker.db import engine_for, session_factory, session_scope
from tracker.engine import infer
from tracker.facts import facts_of_row
from tracker.models import Alert, Lesion, Observation, ObservationFeature, Patient
from tracker.services.assessment.scan import due_lesions, scan_alerts
from tracker.vocabulary import AlertState

pytestmark = pytest.mark.slow

LESIONS = 400
CHUNK = 40
STATEMENTS_PER_CHUNK = 25  # key page, lock, 5 loads, <= 11 writes, insertmanyvalues batches
D = date.fromisoformat
DWHN = ("dense", "well_defined", "homogeneous", "nodular")
MIHC = ("moderate", "ill_defined", "heterogeneous", "cloud")

# (lesion columns, [(day offset, size or None, morphology, features)]): four clinical courses.
Visit = tuple[int, float | None, tuple[str, ...], tuple[str, ...]]
COURSES: list[tuple[dict[str, Any], list[Visit]]] = [
    ({"compartment": "tendon", "region": "shoulder", "entity": "hadd"},  # no resolution
     [(0, 12, DWHN, ()), (92, 12.5, DWHN, ()), (187, 12, DWHN, ())]),
    ({"compartment": "tendon", "region": "shoulder", "entity": "hadd"},  # late, then resolves
     [(0, 14, DWHN, ()), (330, 9, MIHC, ("comet_tail",)), (470, None, (), ())]),
    ({"compartment": "articular", "region": "hip",  # rapid progression, urgent
      "entity": "rapidly_destructive_arthropathy"},
     [(0, 12, MIHC, ()), (65, 20, MIHC, ("bone_lysis",))]),
    ({"compartment": "soft_tissue", "region": "thigh", "entity": None},  # suggested entity
     [(0, 30, ("faint", "ill_defined", "heterogeneous", "cloud"), ()),
      (35, 40, ("moderate", "well_defined", "heterogeneous", "shell"), ("zonal_peripheral",))]),
]


def bulk_insert(url: str, n: int) -> None:
    """n lesions over n/10 patients with core executemany inserts (seconds, not minutes)."""
    start = D("2024-01-01")
    patients, lesions, observations, features = [], [], [], []
    obs_id = 0
    for i in range(n):
        pid, lid = i // 10 + 1, i + 1
        if i % 10 == 0:
            patients.append({"id": pid, "external_id": f"P{pid:06d}"})
        columns, visits = COURSES[i % len(COURSES)]
        first = start + timedelta(days=i % 60)
        lesions.append({"id": lid, "patient_id": pid, "external_id": f"L{lid}",
                        "laterality": "right", "structure": None, "event_date": None,
                        "data_version": 1, "assessment_due_at": None, **columns})
        for offset, size, morph, feats in visits:
            obs_id += 1
            density, margin, texture, pattern = morph or (None, None, None, None)
            observations.append({
                "id": obs_id, "lesion_id": lid, "date": first + timedelta(days=offset),
                "modality": "XR", "visible": size is not None, "size1_mm": size,
                "density": density, "margin": margin, "texture": texture, "pattern": pattern,
            })
            features += [{"observation_id": obs_id, "feature": f} for f in feats]
    with engine_for(url).begin() as conn:
        conn.execute(insert(Patient), patients)
        conn.execute(insert(Lesion), lesions)
        conn.execute(insert(Observation), observations)
        conn.execute(insert(ObservationFeature), features)
        if conn.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for table in ("patients", "lesions", "observations"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )


def engine_alerts(url: str, as_of: date) -> set[tuple[Any, ...]]:
    """What the engine says, lesion by lesion, read through a separate path."""
    with session_scope(url) as s:
        lesions = s.scalars(
            select(Lesion).options(
                selectinload(Lesion.observations).selectinload(Observation.feature_rows),
                selectinload(Lesion.treatments),
            )
        )
        return {
            (lesion.id, a.kind.value, a.severity.value, a.since, a.reason)
            for lesion in lesions
            for a in infer(facts_of_row(lesion), as_of).alerts
        }


def stored_alerts(url: str) -> set[tuple[Any, ...]]:
    with session_scope(url) as s:
        return {
            (a.lesion_id, a.kind, a.severity, a.since, a.reason)
            for a in s.scalars(select(Alert).where(Alert.state != AlertState.CLEARED.value))
        }


def test_scan_in_chunks_is_set_based_and_matches_the_engine(
    database_url: str,
) -> None:
    bulk_insert(database_url, LESIONS)
    engine = engine_for(database_url)

    for as_of, due in ((D("2024-10-15"), LESIONS), (D("2025-06-01"), None)):
        with session_factory(database_url)() as s:
            due_now = len(due_lesions(s, as_of))
        assert due is None or due_now == due  # the first scan: none assessed yet, all due
        chunks = math.ceil(due_now / CHUNK)
        with statements_run(engine) as statements, session_factory(database_url)() as s:
            report = scan_alerts(s, as_of, chunk_size=CHUNK)
        assert report.lesions == due_now and report.failed == []
        assert report.chunks == chunks
        # counted on the engine the scan used (at least a load per chunk), and bounded per chunk
        assert chunks <= len(statements) <= STATEMENTS_PER_CHUNK * chunks + 2, len(statements)
        expected = engine_alerts(database_url, as_of)
        assert stored_alerts(database_url) == expected
        assert report.opened > 0

    # Time and later visits moved on: the second scan, on what was due, opened and cleared
    # (overdue follow-ups now imaged) alerts, and fewer lesions than the whole table.
    assert report.cleared > 0 and 0 < report.lesions < LESIONS
    with statements_run(engine) as statements, session_factory(database_url)() as s:
        again = scan_alerts(s, D("2025-06-01"), chunk_size=CHUNK)
    assert (again.lesions, again.opened, again.cleared, again.changed) == (0, 0, 0, 0)
    assert len(statements) <= 2  # the index lookup (and its rollback), nothing else
    assert stored_alerts(database_url) == expected
