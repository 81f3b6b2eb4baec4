"""The audit event writer: every service records who changed what through this one function."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from tracker.clock import now
from tracker.db import Base
from tracker.errors import InvalidInput, Problem
from tracker.models import Alert, AuditEvent, Lesion, Observation, Treatment

SYSTEM_ACTOR = "system"
MAX_REASON_CHARS = 500
# audited rows that belong to a lesion (their `lesion_id` files the event under it)
OWNED_BY_A_LESION: dict[str, type[Base]] = {"observation": Observation, "alert": Alert,
                                             "treatment": Treatment}


def audit(
    session: Session,
    actor: str,
    action: str,
    target_type: str,
    target_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    *,
    reason: str | None = None,
) -> None:
    """Add an audit event to the caller's transaction (so it commits or rolls back with it),
    filed under the patient and lesion it belongs to, for their history pages."""
    patient_id, lesion_id = _scope(session, target_type, target_id)
    session.add(
        AuditEvent(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before=before,
            after=after,
            at=now(),
            patient_id=patient_id,
            lesion_id=lesion_id,
            reason=reason,
        )
    )


def _scope(session: Session, target_type: str,
           target_id: int | None) -> tuple[int | None, int | None]:
    """(patient id, lesion id) of an audited row; the row is in the session already, so this
    reads the identity map, not the database."""
    if target_id is None:
        return None, None
    if target_type == "patient":
        return target_id, None
    lesion_id = target_id if target_type == "lesion" else None
    owner = OWNED_BY_A_LESION.get(target_type)
    if owner is not None:
        lesion_id = getattr(session.get(owner, target_id), "lesion_id", None)
    if lesion_id is None:
        return None, None
    lesion = session.get(Lesion, lesion_id)
    return (lesion.patient_id if lesion is not None else None), lesion_id


def audit_rows(session: Session, events: Sequence[dict[str, Any]]) -> None:
    """Events already filed under their patient and lesion, in one statement (the bulk
    writers: the import and the scan know each row's owners without reading them back)."""
    if events:
        session.execute(insert(AuditEvent), list(events))


def required_reason(reason: str | None, ask: str) -> str:
    """The reason a person gives for a correction, a removal or an identity change: required
    (kept in the audit beside the before and after), at most MAX_REASON_CHARS. `ask` is what
    the refusal says, e.g. "say briefly why this treatment is removed"."""
    text = (reason or "").strip()
    if not text:
        raise InvalidInput([Problem("reason", ask)])
    if len(text) > MAX_REASON_CHARS:
        raise InvalidInput([Problem("reason", f"is {len(text)} characters; at most "
                                              f"{MAX_REASON_CHARS} allowed")])
    return text
