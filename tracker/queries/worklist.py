"""The alert worklist (page and API): uncleared alerts across patients with their filters, the
rules to filter by, and the header's count of what needs action now.

Built to stay fast at a million uncleared alerts: the sort is one stored column plus two
(`sort_rank, since, id`), every filter is a column of the alerts themselves (the lesion's values
are copied onto its alerts, `tracker.alert_columns`), and each filter has an index led by its
column and followed by the sort; pages are keyset pages and the count is bounded
(`tracker.queries.paging`). The header's counts are maintained (`tracker.alert_counts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, literal_column, or_, select, tuple_
from sqlalchemy.orm import Session, contains_eager

from tracker import alert_counts
from tracker.errors import InvalidInput, Problem
from tracker.models import ACKNOWLEDGED_RANK, Alert, Lesion, Observation, Patient
from tracker.queries.paging import (
    Page,
    bounded_count,
    decode_cursor,
    encode_cursor,
)
from tracker.queries.patient_list import patient_id_matches
from tracker.vocabulary import SEVERITY_RANK, AlertState, Severity, snooze_over

WORKLIST_STATES: dict[str, tuple[str, ...]] = {
    # what a clinician still has to act on: open, acknowledged, and snoozes that ran out
    "active": (AlertState.OPEN.value, AlertState.ACKNOWLEDGED.value, AlertState.SNOOZED.value),
    "open": (AlertState.OPEN.value,),
    "acknowledged": (AlertState.ACKNOWLEDGED.value,),
    "snoozed": (AlertState.SNOOZED.value,),
    "uncleared": (AlertState.OPEN.value, AlertState.ACKNOWLEDGED.value, AlertState.SNOOZED.value),
}
# The deepest page reached by number (`page=N`, an OFFSET): deeper ones by the `after` cursor.
MAX_OFFSET = 10_000
_KEY_TYPES = (int, date, int)


def needs_action(today: date) -> ColumnElement[bool]:
    """Open, or snoozed until a date that has come."""
    return or_(
        Alert.state == AlertState.OPEN.value,
        and_(Alert.state == AlertState.SNOOZED.value, snooze_over(Alert.snoozed_until, today)),
    )


@dataclass(frozen=True)
class WorklistFilter:
    kind: str | None = None
    severity: str | None = None
    region: str | None = None
    state: str = "active"
    rule: str | None = None
    entity: str | None = None
    stage: str | None = None
    overdue: bool = False
    patient: str = ""
    unassessed_morphology: bool = False


def _where(flt: WorklistFilter, today: date) -> list[ColumnElement[bool]]:
    """The filters, each on a column of the alerts (so an index of the alerts serves it).
    `state <> 'cleared'` is spelled out: it is the partial indexes' condition."""
    where: list[ColumnElement[bool]] = [Alert.state != AlertState.CLEARED.value]
    if flt.state == "open":
        where.append(Alert.state == AlertState.OPEN.value)
    elif flt.state == "acknowledged":
        where.append(Alert.sort_rank >= ACKNOWLEDGED_RANK)
    elif flt.state == "snoozed":
        where.append(Alert.state == AlertState.SNOOZED.value)
    elif flt.state != "uncleared":  # active: leaves out snoozes still running
        where.append(or_(Alert.state != AlertState.SNOOZED.value,
                         snooze_over(Alert.snoozed_until, today)))
    if flt.kind:
        where.append(Alert.kind == flt.kind)
    if flt.severity:
        rank = SEVERITY_RANK[Severity(flt.severity)]
        where.append(Alert.sort_rank.in_((rank, rank + ACKNOWLEDGED_RANK)))
    if flt.region:
        where.append(Alert.region == flt.region)
    if flt.rule:
        where.append(Alert.rule == flt.rule)
    if flt.entity:
        where.append(Alert.entity == flt.entity)
    if flt.stage:
        where.append(Alert.stage == flt.stage)
    if flt.overdue:
        where.append(Alert.next_follow_up < today)
    if flt.unassessed_morphology:
        # a visible finding without density or margin (e.g. from a viewer's SR): to complete
        where.append(Alert.lesion_id.in_(
            select(Observation.lesion_id).where(
                Observation.visible.is_(True),
                or_(Observation.density.is_(None), Observation.margin.is_(None)))))
    if flt.patient.strip():
        where.append(Alert.patient_id.in_(
            select(Patient.id).where(patient_id_matches(flt.patient))))
    return where


def alert_key(alert: Alert) -> tuple[int, date, int]:
    """An alert's place in the worklist's order (its keyset cursor)."""
    return (alert.sort_rank, alert.since, alert.id)


def worklist(
    session: Session, flt: WorklistFilter, *, today: date, after: str | None = None,
    page: int = 1, per_page: int = 50,
) -> Page[Alert]:
    """Uncleared alerts across patients: open (and ended snoozes) before acknowledged, then
    most severe, then longest outstanding, then id.

    `after` (a cursor from the previous page) seeks straight to the next page; `page` reads a
    shallow page by number (up to `MAX_OFFSET` rows deep). `state="active"` (the default)
    leaves out alerts snoozed until a date still to come. Each alert comes with its lesion and
    patient loaded: the page is one statement, the count another (bounded).
    """
    where = _where(flt, today)
    order = (Alert.sort_rank, Alert.since, Alert.id)
    query = (
        select(Alert)
        .join(Lesion, Alert.lesion_id == Lesion.id)
        .join(Patient, Patient.id == Lesion.patient_id)
        .options(contains_eager(Alert.lesion).contains_eager(Lesion.patient))
        .where(*where)
        .order_by(*order)
        .limit(per_page + 1)
    )
    offset = 0
    if after:
        query = query.where(tuple_(*order) > tuple_(*decode_cursor(after, _KEY_TYPES)))
    elif page > 1:
        offset = (page - 1) * per_page
        if offset > MAX_OFFSET:
            raise InvalidInput([Problem("page", f"page {page} is deeper than {MAX_OFFSET:,} "
                                                "rows; follow the `after` cursor instead")])
        query = query.offset(offset)
    rows = list(session.scalars(query).unique())
    more = len(rows) > per_page
    items = rows[:per_page]
    count = bounded_count(session, select(literal_column("1")).select_from(Alert)
                          .where(*where))
    return Page(items, count.n, 1 if after else page, per_page, total_is=count.kind,
                next_after=encode_cursor(alert_key(items[-1])) if more else None,
                first=not after and offset == 0)


def alert_rules(session: Session) -> list[str]:
    """The rule ids that uncleared alerts carry (the worklist's rule filter): a skip scan of
    `ix_alerts_worklist_rule`, one index probe per distinct rule, not a scan of the alerts."""
    rules = select(Alert.rule).where(Alert.state != AlertState.CLEARED.value)
    first = select(rules.with_only_columns(Alert.rule).order_by(Alert.rule).limit(1)
                   .scalar_subquery().label("rule")).cte("rules", recursive=True)
    following = select(
        rules.where(Alert.rule > first.c.rule).with_only_columns(Alert.rule)
        .order_by(Alert.rule).limit(1).scalar_subquery()
    ).where(first.c.rule.is_not(None))
    walk = first.union_all(following)
    found: list[Any] = list(session.scalars(select(walk.c.rule).where(walk.c.rule.is_not(None))))
    return sorted(str(r) for r in found)


def attention_counts(session: Session, *, today: date) -> dict[str, int]:
    """Alerts needing action now, by severity (the header every page shows), from the
    maintained counts."""
    return alert_counts.needing_action(session, today=today)

