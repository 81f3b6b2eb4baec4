"""The worklist's scale machinery, checked against the plain answer on both engines: keyset
pages give the rows of one unpaged query, in order (also when rows change between two pages);
the maintained header counts equal a recount, and the alerts' copies of their lesion's columns
equal the lesion's, after random acknowledgements, snoozes, scans, site corrections and merges
(and, on PostgreSQL, concurrent assessment chunks and clinicians)."""

from __future__ import annotations

import random
import threading
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from testkit.cohort import generate, insert_rows
from tracker import alert_counts
from tracker.alert_columns import COPIES
from tracker.db import session_factory
from tracker.errors import InvalidInput
from tracker.models import Alert, Lesion, Observation, Patient
from tracker.queries.worklist import WorklistFilter, attention_counts, worklist
from tracker.services.alerts import acknowledge_alert, decide_alerts, snooze_alert
from tracker.services.assessment.assess import assess_lesions
from tracker.services.assessment.scan import scan_alerts
from tracker.services.identity import correct_site, merge_lesions
from tracker.vocabulary import SEVERITY_RANK, AlertState, Severity

LESIONS = 60
START = date(2022, 1, 3)
AS_OF = date(2023, 3, 1)


def _cohort(url: str, seed: int = 7) -> Session:
    """A random cohort of every family, assessed as of `AS_OF`: real alerts of every kind."""
    insert_rows(url, generate(LESIONS, seed=seed, start=START, span_days=300))
    session = session_factory(url)()
    assess_lesions(session, list(range(1, LESIONS + 1)), AS_OF)
    return session


def _order(a: Alert) -> tuple[int, int, date, int]:
    """The worklist's documented order: open (and snoozes) before acknowledged, then most
    severe, then longest outstanding, then id."""
    return (int(a.state == AlertState.ACKNOWLEDGED.value),
            SEVERITY_RANK[Severity(a.severity)], a.since, a.id)


def _unpaged(session: Session, keep: Any) -> list[int]:
    rows = [a for a in session.scalars(select(Alert).where(
        Alert.state != AlertState.CLEARED.value)) if keep(a)]
    return [a.id for a in sorted(rows, key=_order)]


def _walk(session: Session, flt: WorklistFilter, per_page: int,
          between: Any = None) -> list[int]:
    seen: list[int] = []
    after = None
    while True:
        page = worklist(session, flt, today=AS_OF, after=after, per_page=per_page)
        session.rollback()
        seen += [a.id for a in page.items]
        if page.next_after is None:
            return seen
        if between is not None:
            between(seen)
        after = page.next_after


def _consistent(session: Session) -> None:
    """The maintained counts equal a recount; each uncleared alert carries its lesion's
    values."""
    session.rollback()
    assert alert_counts.stored(session) == alert_counts.recount(session)
    copies = select(Alert.id, *(getattr(Alert, k) for k in COPIES),
                    *(c.label(f"l_{k}") for k, c in COPIES.items())).join(
        Lesion, Lesion.id == Alert.lesion_id).where(Alert.state != AlertState.CLEARED.value)
    for row in session.execute(copies):
        stored = tuple(getattr(row, k) for k in COPIES)
        want = tuple(getattr(row, f"l_{k}") for k in COPIES)
        assert stored == want, row.id
    session.rollback()


def test_keyset_pages_are_the_unpaged_query_in_order(database_url: str) -> None:
    session = _cohort(database_url)
    ids = list(session.scalars(select(Alert.id).where(Alert.state == AlertState.OPEN.value)
                               .order_by(Alert.id)))
    assert len(ids) > 30
    decide_alerts(session, ids[::4], snooze=False, actor="dr.a", reason="seen", today=AS_OF)
    decide_alerts(session, ids[1::6], snooze=True, until=AS_OF + timedelta(days=30),
                  actor="dr.a", reason="MR booked", today=AS_OF)
    some = session.scalars(select(Alert).where(
        Alert.state != "cleared", Alert.entity.is_not(None), Alert.stage.is_not(None),
        Alert.next_follow_up < AS_OF)).first()
    assert some is not None
    first = select(Patient.external_id).order_by(Patient.id).limit(1)
    part = session.execute(first).scalar_one()[:3]  # "P00": typed "p00" below
    cases: list[tuple[WorklistFilter, Any]] = [
        (WorklistFilter(), lambda a: a.state != "snoozed"),
        (WorklistFilter(state="uncleared"), lambda a: True),
        (WorklistFilter(state="acknowledged"), lambda a: a.state == "acknowledged"),
        (WorklistFilter(state="snoozed"), lambda a: a.state == "snoozed"),
        (WorklistFilter(severity="warning", state="uncleared"),
         lambda a: a.severity == "warning"),
        (WorklistFilter(kind=some.kind, region=some.region, state="uncleared"),
         lambda a: a.kind == some.kind and a.lesion.region == some.region),
        (WorklistFilter(overdue=True, entity=some.entity, stage=some.stage),
         lambda a: a.state != "snoozed" and a.lesion.next_follow_up is not None
         and a.lesion.next_follow_up < AS_OF
         and (a.lesion.entity or a.lesion.assessed_entity) == some.entity
         and a.lesion.current_stage == some.stage),
        (WorklistFilter(patient="0000003", state="uncleared"),
         lambda a: "0000003" in a.lesion.patient.external_id),
        # any part of the id, ignoring case; a typed wildcard is taken literally
        (WorklistFilter(patient=part.swapcase(), state="uncleared"),
         lambda a: part.lower() in a.lesion.patient.external_id.lower()),
        (WorklistFilter(patient="0_00003", state="uncleared"),
         lambda a: "0_00003" in a.lesion.patient.external_id),
    ]
    for flt, keep in cases:
        session.rollback()
        everything = session.scalars(select(Alert).options(
            selectinload(Alert.lesion).selectinload(Lesion.patient)))
        want = [a.id for a in sorted((a for a in everything if a.state != "cleared"
                                      and keep(a)), key=_order)]
        session.rollback()
        assert _walk(session, flt, per_page=7) == want, flt
        first = worklist(session, flt, today=AS_OF)
        assert (first.total, first.total_is) == (len(want), "exact"), flt
    assert alert_counts.stored(session) == alert_counts.recount(session)


def test_rows_changing_between_pages_neither_repeat_nor_hide_others(database_url: str) -> None:
    """Between two pages a clinician acknowledges alerts (each moves behind the open ones):
    every alert that kept its place is listed exactly once, in order; none is hidden."""
    session = _cohort(database_url, seed=11)
    before = _unpaged(session, lambda a: a.state != "snoozed")
    changed: set[int] = set()

    def act(seen: list[int]) -> None:
        rest = [i for i in before if i not in seen and i not in changed]
        for alert_id in rest[:2] + seen[-1:]:
            acknowledge_alert(session, alert_id, actor="dr.b", reason="seen")
            changed.add(alert_id)

    got = _walk(session, WorklistFilter(), per_page=6, between=act)
    kept = [i for i in before if i not in changed]
    assert [i for i in got if i in set(kept)] == kept  # each once, in order
    # a changed alert shows at its new place: one acknowledged after it was seen may come
    # again among the acknowledged (at most twice), one not yet seen exactly once
    assert all(1 <= got.count(i) <= 2 for i in changed)
    assert set(got) == set(before)
    _consistent(session)


def test_counts_and_copies_stay_exact_under_random_actions(database_url: str) -> None:
    session = _cohort(database_url, seed=5)
    rng = random.Random(5)
    day = AS_OF
    _consistent(session)
    done: dict[str, int] = {"sites": 0, "merges": 0, "reopened": 0, "cleared": 0}
    for step in range(10):
        open_ids = list(session.scalars(select(Alert.id).where(
            Alert.state.in_(("open", "acknowledged"))).order_by(Alert.id)))
        session.rollback()
        picked = rng.sample(open_ids, min(4, len(open_ids)))
        for alert_id in picked[:2]:
            acknowledge_alert(session, alert_id, actor="dr.c", reason="seen")
        if picked[2:]:
            decide_alerts(session, picked[2:], snooze=True, actor="dr.c", reason="wait",
                          until=day + timedelta(days=rng.randint(1, 20)), today=day)
        if step % 3 == 1:  # a site correction: the region's copies follow at once
            sites = session.execute(select(Lesion.id, Lesion.compartment, Lesion.region,
                                           Lesion.laterality)
                                    .where(Lesion.laterality != "midline")
                                    .order_by(Lesion.id)).all()
            session.rollback()
            moved = rng.choice(sites)
            other = next((r.region for r in sites if r.compartment == moved.compartment
                          and r.region != moved.region), None)
            if other is not None:
                correct_site(session, moved.id, {
                    "compartment": moved.compartment, "region": other,
                    "laterality": moved.laterality}, actor="dr.c", reason="wrong region",
                    expected_version=None)
                done["sites"] += 1
        if step % 4 == 2:  # a merge: the merged lesion's alerts go with it
            pairs = session.execute(select(Lesion.id, Lesion.patient_id, Lesion.compartment,
                                           Lesion.region, Lesion.laterality)
                                    .order_by(Lesion.patient_id, Lesion.id)).all()
            session.rollback()
            by_patient: dict[int, list[Any]] = {}
            for row in pairs:
                by_patient.setdefault(row.patient_id, []).append(row)
            two = [rows for rows in by_patient.values() if len(rows) == 2]
            rng.shuffle(two)
            for kept_row, merged_row in two:
                # one lesion recorded twice is at one site: a record at another is corrected
                # first, as the merge's refusal asks (its entity may not allow that site)
                if (kept_row.region, kept_row.laterality) != (merged_row.region,
                                                                merged_row.laterality):
                    try:
                        correct_site(session, merged_row.id, {
                            "compartment": kept_row.compartment, "region": kept_row.region,
                            "laterality": kept_row.laterality}, actor="dr.c",
                            reason="recorded at the wrong site", expected_version=None)
                    except InvalidInput:
                        session.rollback()
                        continue
                break
            else:
                pytest.fail("no two records of one patient could be put at one site")
            kept, merged = kept_row.id, merged_row.id
            dates = [d for d, n in session.execute(
                select(Observation.date, func.count()).where(
                    Observation.lesion_id.in_((kept, merged))).group_by(Observation.date))
                if n > 1]
            session.rollback()
            merge_lesions(session, kept, merged, prefer={d: "kept" for d in dates},
                          actor="dr.c", reason="one deposit")
            done["merges"] += 1
        day += timedelta(days=rng.choice((1, 7, 20, 45)))
        report = scan_alerts(session, day, chunk_size=17)
        assert report.failed == []
        done["reopened"] += report.reopened
        done["cleared"] += report.cleared
        _consistent(session)
    assert all(done.values()), done  # every kind of writer ran
    # the header: open ones from the counts, plus snoozes that ran out today
    session.rollback()
    want = {s.value: 0 for s in Severity}
    for a in session.scalars(select(Alert)):
        if a.state == "open" or (a.state == "snoozed" and a.snoozed_until <= day):
            want[a.severity] += 1
    assert attention_counts(session, today=day) == want


@pytest.mark.postgres
def test_counts_stay_exact_with_concurrent_chunks_and_clinicians(postgres_url: str) -> None:
    """Two scans of disjoint chunks and two clinicians acting on the same alerts at once: the
    counts are applied as deltas from locked rows, so none is lost or counted twice."""
    session = _cohort(postgres_url, seed=3)
    ids = list(session.scalars(select(Alert.id).where(Alert.state != "cleared")
                               .order_by(Alert.id)))
    session.close()
    errors: list[BaseException] = []
    later = AS_OF + timedelta(days=200)

    def run(work: Any) -> None:
        s = session_factory(postgres_url)()
        try:
            work(s)
        except BaseException as exc:  # reported by the test below
            errors.append(exc)
        finally:
            s.close()

    def scan(part: list[int]) -> Any:
        return lambda s: assess_lesions(s, part, later, chunk_size=5)

    def clinician(name: str, chosen: list[int]) -> Any:
        def work(s: Session) -> None:
            for alert_id in chosen:
                try:
                    snooze_alert(s, alert_id, AS_OF + timedelta(days=9), actor=name,
                                 reason="wait", today=AS_OF)
                except Exception:  # cleared by the scan meanwhile (Conflict): fine
                    s.rollback()
        return work

    half = LESIONS // 2
    threads = [threading.Thread(target=run, args=(w,)) for w in (
        scan(list(range(1, half + 1))), scan(list(range(half + 1, LESIONS + 1))),
        clinician("dr.d", ids[::2]), clinician("dr.e", ids[::3]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with session_factory(postgres_url)() as s:
        _consistent(s)
