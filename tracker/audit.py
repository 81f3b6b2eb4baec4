"""The audit event writer: every service records who changed what through this one function."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from tracker.clock import now
from tracker.models import AuditEvent

SYSTEM_ACTOR = "system"


def audit(
    session: Session,
    actor: str,
    action: str,
    target_type: str,
    target_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add an audit event to the caller's transaction (so it commits or rolls back with it)."""
    session.add(
        AuditEvent(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before=before,
            after=after,
            at=now(),
        )
    )


def audit_many(
    session: Session,
    actor: str,
    action: str,
    target_type: str,
    target_ids: Sequence[int],
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """The same event for many targets in one statement (bulk writers such as the scan)."""
    if not target_ids:
        return
    when = at or now()
    session.execute(
        insert(AuditEvent),
        [
            {"actor": actor, "action": action, "target_type": target_type,
             "target_id": target_id, "before": before, "after": after, "at": when}
            for target_id in target_ids
        ],
    )
