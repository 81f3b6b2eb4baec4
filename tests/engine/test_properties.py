"""Properties that hold for every valid timeline (hypothesis, kept small so the suite is fast)."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.engine import (
    Finding,
    LesionAssessment,
    LesionFacts,
    assessment_to_json,
    infer,
)
from tracker.vocabulary import (
    SEVERITY_RANK,
    STAGES_OF,
    AlertKind,
    Compartment,
    Density,
    Entity,
    Feature,
    Margin,
    Modality,
    Pattern,
    Region,
    Texture,
)

EXAMPLES = settings(max_examples=200, deadline=None)
FIRST_DAY, LAST_DAY = date(2018, 1, 1), date(2026, 6, 30)

sizes_mm = st.lists(st.integers(1, 5000).map(lambda x: x / 10), min_size=1, max_size=3).map(
    lambda xs: tuple(sorted(xs, reverse=True))
)
feature_sets = st.lists(st.sampled_from(list(Feature)), unique=True, max_size=4).map(tuple)


@st.composite
def findings_on(draw: st.DrawFn, day: date) -> Finding:
    modality = draw(st.sampled_from(list(Modality)))
    if draw(st.integers(0, 4)) == 0:  # one in five: looked for, not seen
        return Finding(day, modality, visible=False, features=draw(feature_sets))
    return Finding(
        date=day,
        modality=modality,
        size_mm=draw(sizes_mm),
        density=draw(st.sampled_from(list(Density))),
        margin=draw(st.sampled_from(list(Margin))),
        texture=draw(st.none() | st.sampled_from(list(Texture))),
        pattern=draw(st.none() | st.sampled_from(list(Pattern))),
        features=draw(feature_sets),
        pain=draw(st.none() | st.integers(0, 10)),
    )


@st.composite
def lesions(draw: st.DrawFn) -> LesionFacts:
    days = draw(st.lists(st.dates(FIRST_DAY, LAST_DAY), min_size=1, max_size=9, unique=True))
    findings = tuple(draw(findings_on(d)) for d in days)
    event = draw(st.none() | st.integers(0, 400).map(lambda k: min(days) - timedelta(days=k)))
    return LesionFacts(
        compartment=draw(st.sampled_from(list(Compartment))),
        region=draw(st.sampled_from(list(Region))),
        entity=draw(st.none() | st.sampled_from(list(Entity))),
        event_date=event,
        findings=findings,
    )


as_of_days = st.dates(FIRST_DAY, LAST_DAY + timedelta(days=900))


def as_json(a: LesionAssessment) -> str:
    return json.dumps(assessment_to_json(a), sort_keys=False)


@EXAMPLES
@given(lesions(), as_of_days)
def test_one_stage_per_observation_in_date_order_and_well_formed(
    lesion: LesionFacts, as_of: date
) -> None:
    a = infer(lesion, as_of)
    assert [s.date for s in a.stages] == sorted(f.date for f in lesion.findings)
    assert all(s.stage in STAGES_OF[a.family] for s in a.stages)
    assert all(0.05 <= s.confidence <= 0.95 for s in a.stages)
    changes = [(p.stage, s.stage) for p, s in pairwise(a.stages) if p.stage is not s.stage]
    assert [(t.from_stage, t.to_stage) for t in a.transitions] == changes
    ranks = [(SEVERITY_RANK[x.severity], x.since, x.rule) for x in a.alerts]
    assert ranks == sorted(ranks)
    assert len({x.kind for x in a.alerts}) == len(a.alerts)
    known = [f.date for f in lesion.findings if f.date <= as_of]
    assert all(x.since <= as_of for x in a.alerts)
    if a.next_follow_up is not None:
        assert known and a.next_follow_up > max(known)
    if not known:
        assert a.alerts == () and a.next_follow_up is None
    assert 1 <= len(a.suggestions) <= 3
    json.dumps(assessment_to_json(a))


@EXAMPLES
@given(lesions(), as_of_days, st.randoms(use_true_random=False))
def test_input_order_does_not_matter(lesion: LesionFacts, as_of: date, rnd: random.Random) -> None:
    shuffled = list(lesion.findings)
    rnd.shuffle(shuffled)
    other = LesionFacts(
        lesion.compartment, lesion.region, lesion.entity, lesion.event_date, tuple(shuffled)
    )
    assert as_json(infer(lesion, as_of)) == as_json(infer(other, as_of))


@EXAMPLES
@given(lesions(), as_of_days)
def test_output_is_deterministic(lesion: LesionFacts, as_of: date) -> None:
    assert infer(lesion, as_of) == infer(lesion, as_of)
    assert as_json(infer(lesion, as_of)) == as_json(infer(lesion, as_of))


@EXAMPLES
@given(lesions(), st.integers(0, 2000))
def test_later_as_of_never_reopens_a_cleared_alert_without_a_new_observation(
    lesion: LesionFacts, offset_days: int
) -> None:
    """Between observations only follow_up_overdue may appear; nothing else opens or closes."""
    dates = sorted(f.date for f in lesion.findings)
    checkpoints = sorted({*dates, *(d + timedelta(days=1) for d in dates)})
    checkpoints.append(dates[-1] + timedelta(days=offset_days))
    previous: dict[AlertKind, date] | None = None
    previous_day: date | None = None
    for day in sorted(set(checkpoints)):
        a = infer(lesion, day)
        now = {x.kind: x.since for x in a.alerts}
        if previous is not None and previous_day is not None:
            new_observation = any(previous_day < d <= day for d in dates)
            if not new_observation:
                stage_alerts = {
                    k: v for k, v in now.items() if k is not AlertKind.FOLLOW_UP_OVERDUE
                }
                before = {k: v for k, v in previous.items() if k is not AlertKind.FOLLOW_UP_OVERDUE}
                assert stage_alerts == before
                if AlertKind.FOLLOW_UP_OVERDUE in previous:
                    assert (
                        now.get(AlertKind.FOLLOW_UP_OVERDUE)
                        == previous[AlertKind.FOLLOW_UP_OVERDUE]
                    )
        previous, previous_day = now, day


@EXAMPLES
@given(lesions(), as_of_days)
def test_stages_do_not_depend_on_as_of_or_later_observations(
    lesion: LesionFacts, as_of: date
) -> None:
    full = infer(lesion, as_of)
    ordered = sorted(lesion.findings, key=lambda f: f.date)
    cut = LesionFacts(
        lesion.compartment,
        lesion.region,
        full.entity,  # the suggestion may change with more findings (9a.8); fix the model
        lesion.event_date,
        tuple(ordered[: max(1, len(ordered) // 2)]),
    )
    given_full = infer(
        LesionFacts(
            lesion.compartment, lesion.region, full.entity, lesion.event_date, lesion.findings
        ),
        as_of,
    )
    head = infer(cut, date(2000, 1, 1))
    assert head.stages == given_full.stages[: len(head.stages)]
