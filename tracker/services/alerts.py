"""What a clinician does to an alert: acknowledge it, or snooze it until a date, with a reason.

One function = one transaction with its audit event. The engine owns the alert itself (kind,
severity, reason, clearing); these functions touch only the state columns a person owns.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker import alert_counts
from tracker.audit import audit
from tracker.clock import now
from tracker.errors import Conflict, InvalidInput, NotFound, Problem
from tracker.models import Alert
from tracker.queries.show import alert_json
from tracker.summaries import patients_of_lesions, refresh_patient_summaries
from tracker.vocabulary import AlertState, Severity

MAX_REASON_CHARS = 2000
MAX_SNOOZE_DAYS = 366
URGENT_NEEDS_REASON = "is required to acknowledge an urgent alert (say what is being done)"
# The snooze form's choices: (label, days or months ahead).
SNOOZE_PRESETS: tuple[tuple[str, int, int], ...] = (
    ("2 weeks", 14, 0), ("1 month", 0, 1), ("3 months", 0, 3), ("6 months", 0, 6),
)


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
                 reason: str | None, until: date | None, counts: alert_counts.Delta) -> None:
    """The one write of a person's decision on a (locked) alert, with its audit event and its
    change to the header counts (added to `counts`, applied by the caller before its commit)."""
    before = _state(alert)
    counts.move((alert.severity, alert.state), (alert.severity, state.value))
    alert.state = state.value
    alert.state_by = actor
    alert.state_at = now()
    alert.state_reason = reason
    alert.snoozed_until = until
    audit(session, actor, action, "alert", alert.id, before, _state(alert))


def _maintained(session: Session, lesion_ids: list[int], counts: alert_counts.Delta) -> None:
    """After a decision on alerts, before its commit: the patient list's rows of those
    lesions' patients, then the header's counters (last, as in every writer: the hottest rows,
    held for the commit only)."""
    session.flush()
    refresh_patient_summaries(session, patients_of_lesions(session, lesion_ids))
    alert_counts.apply(session, counts)


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
    counts = alert_counts.Delta()
    _write_state(session, alert, state, action, actor=actor, reason=reason, until=until,
                 counts=counts)
    _maintained(session, [alert.lesion_id], counts)
    session.commit()
    return alert


def snooze_presets(today: date) -> list[tuple[str, date]]:
    """The snooze form's preset dates: 2 weeks, then 1, 3 and 6 calendar months ahead (the
    last day of a shorter month when the day does not exist in it)."""
    out = []
    for label, days, months in SNOOZE_PRESETS:
        if months:
            year, month0 = divmod(today.month - 1 + months, 12)
            last = calendar.monthrange(today.year + year, month0 + 1)[1]
            day = date(today.year + year, month0 + 1, min(today.day, last))
        else:
            day = today + timedelta(days=days)
        out.append((label, day))
    return out


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
    alert = _load(session, alert_id)
    if text is None and alert.severity == Severity.URGENT.value:
        session.rollback()
        raise InvalidInput([Problem("reason", URGENT_NEEDS_REASON)])
    counts = alert_counts.Delta()
    _write_state(session, alert, AlertState.ACKNOWLEDGED, "alert.acknowledge", actor=actor,
                 reason=text, until=None, counts=counts)
    _maintained(session, [alert.lesion_id], counts)
    session.commit()
    return alert


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
    urgent = [a.id for a in rows
              if a.severity == Severity.URGENT.value and a.state != AlertState.CLEARED.value]
    if text is None and not snooze and urgent:
        session.rollback()
        raise InvalidInput([Problem("reason", f"{URGENT_NEEDS_REASON} ({len(urgent)} chosen)")])
    done = []
    counts = alert_counts.Delta()
    for alert in rows:
        if alert.state == AlertState.CLEARED.value:
            continue
        _write_state(session, alert, state, action, actor=actor, reason=text, until=day,
                     counts=counts)
        done.append(alert.id)
    decided = set(done)
    _maintained(session, [a.lesion_id for a in rows if a.id in decided], counts)
    session.commit()
    return BulkResult(done, [i for i in ids if i not in decided])
