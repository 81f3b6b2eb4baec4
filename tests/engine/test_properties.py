"""Properties that hold for every valid timeline (hypothesis, kept small so the suite is fast).

Only observations and treatments dated on or before `as_of` count (§0); the order in which they
are listed never matters.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import date, timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.engine import (
    Finding,
    LesionAssessment,
    LesionFacts,
    Resolution,
    assessment_to_json,
    infer,
)
from tracker.vocabulary import (
    SEVERITY_RANK,
    STAGES_OF,
    AlertKind,
    Entity,
    Modality,
    Stage,
    TreatmentKind,
)

from .builders import (
    LAST_DAY,
    as_of_days,
    findings_on,
    lesion,
    lesions,
    not_seen,
    sizes_mm,
    treated,
    xr,
)

EXAMPLES = settings(max_examples=120, deadline=None)


def as_json(a: LesionAssessment) -> str:
    return json.dumps(assessment_to_json(a), sort_keys=False)


@EXAMPLES
@given(lesions(), as_of_days)
def test_one_stage_per_observation_up_to_as_of_in_date_order_and_well_formed(
    facts: LesionFacts, as_of: date
) -> None:
    a = infer(facts, as_of)
    known = sorted(f.date for f in facts.findings if f.date <= as_of)
    assert [s.date for s in a.stages] == known
    assert all(s.stage in STAGES_OF[a.family] for s in a.stages)
    assert all(0.05 <= s.confidence <= 0.95 for s in a.stages)
    assert all((s.resolution is None) is (s.stage is not Stage.RESOLVED) for s in a.stages)
    changes = [(p.stage, s.stage) for p, s in pairwise(a.stages) if p.stage is not s.stage]
    assert [(t.from_stage, t.to_stage) for t in a.transitions] == changes
    ranks = [(SEVERITY_RANK[x.severity], x.since, x.rule) for x in a.alerts]
    assert ranks == sorted(ranks)
    assert len({x.kind for x in a.alerts}) == len(a.alerts)
    assert all(x.since <= as_of for x in a.alerts)
    if a.next_follow_up is not None:
        assert known and a.next_follow_up > max(known)
    if not known:
        assert a.alerts == () and a.next_follow_up is None and a.transitions == ()
    assert 1 <= len(a.suggestions) <= 3
    json.dumps(assessment_to_json(a))


@EXAMPLES
@given(lesions(), as_of_days, st.data())
def test_adding_an_observation_or_treatment_after_as_of_changes_nothing(
    facts: LesionFacts, as_of: date, data: st.DataObject
) -> None:
    """§0: a report for a past date is what the engine would have said then."""
    taken = {f.date for f in facts.findings}
    later = data.draw(
        st.dates(as_of + timedelta(days=1), as_of + timedelta(days=800)).filter(
            lambda d: d not in taken
        )
    )
    more_findings = (*facts.findings, data.draw(findings_on(later)))
    treatment_day = data.draw(st.dates(as_of + timedelta(days=1), as_of + timedelta(days=800)))
    kind = data.draw(st.sampled_from(list(TreatmentKind)))
    more_treatments = tuple({*facts.treatments, treated(treatment_day, kind)})
    extended = replace(facts, findings=more_findings, treatments=more_treatments)
    assert as_json(infer(extended, as_of)) == as_json(infer(facts, as_of))


@EXAMPLES
@given(lesions(), as_of_days, st.randoms(use_true_random=False))
def test_input_order_does_not_matter(facts: LesionFacts, as_of: date, rnd: random.Random) -> None:
    """Observations, treatments, and each observation's features, listed in any order."""
    findings = [replace(f, features=tuple(rnd.sample(f.features, len(f.features))))
                for f in facts.findings]
    treatments = list(facts.treatments)
    rnd.shuffle(findings)
    rnd.shuffle(treatments)
    other = replace(facts, findings=tuple(findings), treatments=tuple(treatments))
    assert infer(other, as_of) == infer(facts, as_of)
    assert as_json(infer(other, as_of)) == as_json(infer(facts, as_of))


@EXAMPLES
@given(lesions(), as_of_days)
def test_output_is_deterministic(facts: LesionFacts, as_of: date) -> None:
    assert infer(facts, as_of) == infer(facts, as_of)
    assert as_json(infer(facts, as_of)) == as_json(infer(facts, as_of))


@EXAMPLES
@given(lesions(), as_of_days)
def test_response_is_null_before_any_treatment_and_well_formed_after(
    facts: LesionFacts, as_of: date
) -> None:
    """§7a: a treatment dated on an observation's date counts as after it."""
    a = infer(facts, as_of)
    first_treatment = min((t.date for t in facts.treatments if t.date <= as_of), default=None)
    findings = {f.date: f for f in facts.findings}
    for s in a.stages:
        if first_treatment is None or s.date <= first_treatment:
            assert s.response is None
        if s.response is None:
            continue
        assert s.response.baseline < s.date
        assert findings[s.response.baseline].modality is findings[s.date].modality
        assert s.response.change_pct >= -100.0
        if s.response.category.value == "complete":
            assert not findings[s.date].visible


@EXAMPLES
@given(lesions(), st.integers(0, 2000))
def test_later_as_of_never_reopens_a_cleared_alert_without_a_new_observation(
    facts: LesionFacts, offset_days: int
) -> None:
    """Between observations and treatments only follow_up_overdue may appear."""
    dates = sorted(f.date for f in facts.findings)
    events = sorted({*dates, *(t.date for t in facts.treatments)})
    checkpoints = sorted({*events, *(d + timedelta(days=1) for d in events)})
    checkpoints.append(dates[-1] + timedelta(days=offset_days))
    previous: dict[AlertKind, date] | None = None
    previous_day: date | None = None
    for day in sorted(set(checkpoints)):
        a = infer(facts, day)
        now = {x.kind: x.since for x in a.alerts}
        if previous is not None and previous_day is not None:
            new_event = any(previous_day < d <= day for d in events)
            if not new_event:
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
def test_a_stage_depends_only_on_its_observation_and_earlier_ones(
    facts: LesionFacts, as_of: date
) -> None:
    """With the model fixed (the suggestion may change with more films), cutting the timeline
    after any observation leaves the earlier stages as they were."""
    full = infer(replace(facts, entity=infer(facts, as_of).entity), LAST_DAY)
    ordered = sorted(facts.findings, key=lambda f: f.date)
    cut_day = ordered[max(0, len(ordered) // 2 - 1)].date
    head = infer(replace(facts, entity=full.entity), cut_day)
    assert head.stages == full.stages[: len(head.stages)]


@st.composite
def resolution_runs(draw: st.DrawFn) -> tuple[LesionFacts, int]:
    """A deposit followed on films, one non-MR negative `n` (sometimes over a year after the
    last film), maybe MR negatives, then a second negative on any modality."""
    entity = draw(st.sampled_from([Entity.HADD, Entity.HO, Entity.CPPD, Entity.TUMORAL_CALCINOSIS]))
    day = draw(st.dates(date(2019, 1, 1), date(2022, 1, 1)))
    findings: list[Finding] = []
    for _ in range(draw(st.integers(1, 3))):
        findings.append(xr(day, draw(sizes_mm)[0]))
        day += timedelta(days=draw(st.integers(20, 500)))
    findings.append(not_seen(day, draw(st.sampled_from([Modality.XR, Modality.CT, Modality.US]))))
    for _ in range(draw(st.integers(0, 2))):
        day += timedelta(days=draw(st.integers(1, 60)))
        findings.append(not_seen(day, Modality.MR))
    second = day + timedelta(days=draw(st.integers(1, 400)))
    findings.append(not_seen(second, draw(st.sampled_from(list(Modality)))))
    n_index = sum(f.visible for f in findings)  # n comes right after the visible films
    return lesion(entity, *findings), n_index


@EXAMPLES
@given(resolution_runs())
def test_a_confirmed_resolution_is_never_less_confident_than_the_unconfirmed_one(
    run: tuple[LesionFacts, int],
) -> None:
    """H2c/O2c/G2c at least as sure as `n`; H2r/O2r/G2r exactly as sure (`n`'s final
    confidence, revision 3); MR never confirms."""
    facts, n_index = run
    a = infer(facts, LAST_DAY)
    n, last = a.stages[n_index], a.stages[-1]
    assert n.rule[1:] in ("2a", "2b") and n.stage is last.stage
    assert n.resolution in (Resolution.EXPECTED, Resolution.UNCONFIRMED)
    if last.rule[1:] == "2c":
        assert last.confidence >= n.confidence
        assert (last.date - n.date).days >= 28
        assert last.resolution is Resolution.CONFIRMED
    elif last.rule[1:] == "2r":
        assert (last.date - n.date).days < 28
        assert (last.confidence, last.resolution) == (n.confidence, n.resolution)
    else:
        assert last.rule[1:] == "1" and last.resolution is n.resolution  # MR: carried
