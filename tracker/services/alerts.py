"""What a clinician does to an alert: acknowledge it, or snooze it until a date, with a reason.

One function = one transaction with its audit event. The engine owns the alert itself (kind,
severity, reason, clearing); these functions touch only the state columns a person owns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.audit import audit
from tracker.clock import now
from tracker.errors import Conflict, InvalidInput, NotFound, Problem
from tracker.models import Alert
from tracker.queries.show import alert_json
from tracker.summaries import patients_of_lesions, refresh_patient_summaries
from tracker.vocabulary import AlertState

MAX_REASON_CHARS = 2000
MAX_SNOOZE_DAYS = 366


STATE_KEYS = ("state", "state_by", "state_reason", "snoozed_until")


def _state(alert: Alert) -> dict[str, Any]:
    """The columns a person owns, as the audit event records them (the API's alert shape)."""
    shown = alert_json(alert)
    return {key: shown[key] for key in STATE_KEYS}


def _load(session: Session, alert_id: int) -> Alert:
    """Lock the alert row, so a clearing assessment and this action cannot both win: whichever
    commits second sees the other's state (a cleared alert is never revived)."""
    alert = session.get(Alert, alert_id, with_for_update=True, populate_existing=True)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    if alert.state == AlertState.CLEARED.value:
        raise Conflict(f"alert {alert_id} was cleared by a later assessment")
    return alert


def _clean_reason(reason: object, *, required: bool) -> str | None:
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput([Problem("reason", "is not text")])
    text = (reason or "").strip()
    if len(text) > MAX_REASON_CHARS:
        raise InvalidInput(
            [Problem("reason", f"is {len(text)} characters; at most {MAX_REASON_CHARS} allowed")]
        )
    if required and not text:
        raise InvalidInput([Problem("reason", "is required")])
    return text or None


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
    refresh_patient_summaries(session, patients_of_lesions(session, [alert.lesion_id]))
    session.commit()
    return alert


def snooze_date(raw: object) -> date:
    """The `until` of a snooze as a form or the API sends it (YYYY-MM-DD)."""
    if isinstance(raw, date):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise InvalidInput([Problem("until", "is required as a date (YYYY-MM-DD)")])
    try:
        return date.fromisoformat(raw.strip()) if isinstance(raw, str) else date.fromisoformat("")
    except ValueError:
        raise InvalidInput([Problem("until", f"{raw!r} is not a date (YYYY-MM-DD)")]) from None


def acknowledge_alert(
    session: Session, alert_id: int, *, actor: str, reason: str | None = None
) -> Alert:
    """Say "seen, I am handling it": the alert stays on the worklist, marked acknowledged."""
    text = _clean_reason(reason, required=False)
    return _set_state(
        session, alert_id, AlertState.ACKNOWLEDGED, "alert.acknowledge", actor=actor, reason=text
    )


def _snooze_request(until: object, reason: object, today: date) -> tuple[date, str | None]:
    """A snooze's date and reason as a form or the API sent them: every problem at once."""
    problems: list[Problem] = []
    day: date | None = None
    try:
        day = snooze_date(until)
    except InvalidInput as exc:
        problems.extend(exc.problems)
    if day is not None and day <= today:
        problems.append(Problem("until", f"{day} is not after today ({today})"))
    elif day is not None and (day - today).days > MAX_SNOOZE_DAYS:
        problems.append(Problem("until", f"{day} is more than {MAX_SNOOZE_DAYS} days ahead"))
    text: str | None = None
    try:
        text = _clean_reason(reason, required=True)
    except InvalidInput as exc:
        problems.extend(exc.problems)
    if problems or day is None:
        raise InvalidInput(problems)
    return day, text


def snooze_alert(
    session: Session,
    alert_id: int,
    until: date | str | None,
    *,
    actor: str,
    reason: object,
    today: date,
) -> Alert:
    """Hide an alert until a date, with the reason why waiting is safe (required)."""
    day, text = _snooze_request(until, reason, today)
    return _set_state(
        session, alert_id, AlertState.SNOOZED, "alert.snooze", actor=actor, reason=text,
        until=day,
    )


MAX_BULK = 500


@dataclass
class BulkResult:
    done: list[int]
    skipped: list[int]  # cleared by a later assessment (or gone) meanwhile: left as they are


def decide_alerts(
    session: Session,
    alert_ids: Sequence[int],
    *,
    snooze: bool,
    until: object = None,
    actor: str,
    reason: object,
    today: date,
) -> BulkResult:
    """Acknowledge (or snooze until a date) many alerts with one reason, in one transaction.
    Rows are locked in id order, so two bulk actions cannot deadlock."""
    ids = sorted(set(alert_ids))
    problems = []
    if not ids:
        problems.append(Problem("alerts", "choose at least one alert"))
    elif len(ids) > MAX_BULK:
        problems.append(Problem("alerts", f"{len(ids)} chosen; at most {MAX_BULK} at once"))
    day: date | None = None
    text: str | None = None
    try:
        if snooze:
            day, text = _snooze_request(until, reason, today)
        else:
            text = _clean_reason(reason, required=False)
    except InvalidInput as exc:
        problems.extend(exc.problems)
    if problems:
        raise InvalidInput(problems)
    state, action = ((AlertState.SNOOZED, "alert.snooze") if snooze
                     else (AlertState.ACKNOWLEDGED, "alert.acknowledge"))
    rows = session.scalars(
        select(Alert).where(Alert.id.in_(ids)).order_by(Alert.id)
        .with_for_update().execution_options(populate_existing=True)
    ).all()
    done = []
    for alert in rows:
        if alert.state == AlertState.CLEARED.value:
            continue
        _write_state(session, alert, state, action, actor=actor, reason=text, until=day)
        done.append(alert.id)
    decided = set(done)
    refresh_patient_summaries(session, patients_of_lesions(
        session, {a.lesion_id for a in rows if a.id in decided}))
    session.commit()
    return BulkResult(done, [i for i in ids if i not in set(done)])
