"""What a clinician does to an alert: acknowledge it, or snooze it until a date, with a reason.

One function = one transaction with its audit event. The engine owns the alert itself (kind,
severity, reason, clearing); these functions touch only the state columns a person owns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.errors import Conflict, InvalidInput, NotFound, Problem
from tracker.models import Alert
from tracker.services.records import audit, now
from tracker.vocabulary import AlertState

MAX_REASON_CHARS = 2000
MAX_SNOOZE_DAYS = 366


def _state(alert: Alert) -> dict[str, str | None]:
    return {
        "state": alert.state,
        "state_by": alert.state_by,
        "state_reason": alert.state_reason,
        "snoozed_until": alert.snoozed_until.isoformat() if alert.snoozed_until else None,
    }


def _load(session: Session, alert_id: int) -> Alert:
    """Lock the alert row, so a clearing assessment and this action cannot both win: whichever
    commits second sees the other's state (a cleared alert is never revived)."""
    alert = session.get(Alert, alert_id, with_for_update=True, populate_existing=True)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    if alert.state == AlertState.CLEARED.value:
        raise Conflict(f"alert {alert_id} was cleared by a later assessment")
    return alert


def _clean_reason(reason: str | None, *, required: bool) -> str | None:
    text = (reason or "").strip()
    if len(text) > MAX_REASON_CHARS:
        raise InvalidInput(
            [Problem("reason", f"is {len(text)} characters; at most {MAX_REASON_CHARS} allowed")]
        )
    if required and not text:
        raise InvalidInput([Problem("reason", "is required")])
    return text or None


MAX_BULK = 500


def _write_state(session: Session, alert: Alert, state: AlertState, action: str, *, actor: str,
                 reason: str | None, until: date | None) -> None:
    """The one write of a person's decision on a (locked) alert, with its audit event."""
    before = _state(alert)
    alert.state = state.value
    alert.state_by = actor
    alert.state_at = now()
    alert.state_reason = reason
    alert.snoozed_until = until
    audit(session, actor, action, "alert", alert.id, before, _state(alert))


def _set_state(
    session: Session,
    alert_id: int,
    state: AlertState,
    action: str,
    *,
    actor: str,
    reason: str | None,
    until: date | None = None,
) -> Alert:
    alert = _load(session, alert_id)
    _write_state(session, alert, state, action, actor=actor, reason=reason, until=until)
    session.commit()
    return alert


def acknowledge_alert(
    session: Session, alert_id: int, *, actor: str, reason: str | None = None
) -> Alert:
    """Say "seen, I am handling it": the alert stays on the worklist, marked acknowledged."""
    text = _clean_reason(reason, required=False)
    return _set_state(
        session, alert_id, AlertState.ACKNOWLEDGED, "alert.acknowledge", actor=actor, reason=text
    )


def _snooze_reason(until: date, reason: str | None, today: date) -> str | None:
    """Every problem with a snooze request at once (date window and reason)."""
    problems = []
    if until <= today:
        problems.append(Problem("until", f"{until} is not after today ({today})"))
    elif (until - today).days > MAX_SNOOZE_DAYS:
        problems.append(Problem("until", f"{until} is more than {MAX_SNOOZE_DAYS} days ahead"))
    try:
        text = _clean_reason(reason, required=True)
    except InvalidInput as exc:
        problems.extend(exc.problems)
    if problems:
        raise InvalidInput(problems)
    return text


def snooze_alert(
    session: Session,
    alert_id: int,
    until: date,
    *,
    actor: str,
    reason: str | None,
    today: date,
) -> Alert:
    """Hide an alert until a date, with the reason why waiting is safe (required)."""
    text = _snooze_reason(until, reason, today)
    return _set_state(
        session, alert_id, AlertState.SNOOZED, "alert.snooze", actor=actor, reason=text,
        until=until,
    )


@dataclass
class BulkResult:
    done: list[int]
    skipped: list[int]  # cleared by a later assessment (or gone) meanwhile: left as they are


def decide_alerts(
    session: Session,
    alert_ids: Sequence[int],
    *,
    snooze_until: date | None,
    actor: str,
    reason: str | None,
    today: date,
) -> BulkResult:
    """Acknowledge (or, with `snooze_until`, snooze) many alerts with one reason, in one
    transaction. Rows are locked in id order, so two bulk actions cannot deadlock."""
    ids = sorted(set(alert_ids))
    if not ids:
        raise InvalidInput([Problem("alerts", "choose at least one alert")])
    if len(ids) > MAX_BULK:
        raise InvalidInput([Problem("alerts", f"{len(ids)} chosen; at most {MAX_BULK} at once")])
    if snooze_until is None:
        state, action = AlertState.ACKNOWLEDGED, "alert.acknowledge"
        text = _clean_reason(reason, required=False)
    else:
        state, action = AlertState.SNOOZED, "alert.snooze"
        text = _snooze_reason(snooze_until, reason, today)
    rows = session.scalars(
        select(Alert).where(Alert.id.in_(ids)).order_by(Alert.id)
        .with_for_update().execution_options(populate_existing=True)
    ).all()
    done = []
    for alert in rows:
        if alert.state == AlertState.CLEARED.value:
            continue
        _write_state(session, alert, state, action, actor=actor, reason=text,
                     until=snooze_until)
        done.append(alert.id)
    session.commit()
    return BulkResult(done, [i for i in ids if i not in set(done)])
