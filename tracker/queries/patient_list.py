"""The patient list (page and API): patients, those needing attention first, read from the
maintained `patient_summaries` (`tracker.summaries`), a keyset page at a time.

Order: most open urgent alerts first, then warning, then info, then the patient id. The order
index holds it as ascending keys (-urgent, -warning, -info, external_id), so the page after a
given row is one row comparison and one index range, at any depth. A search is on the patient
id, anywhere in it, ignoring case (`lower(external_id) LIKE '%part%'`: a trigram index on
PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.orm import Session

from tracker.models import Patient, PatientSummary
from tracker.queries.paging import Page, bounded_count, decode_cursor, encode_cursor

S = PatientSummary

# The list's sort key, as ascending expressions (the order index's).
_ORDER: tuple[ColumnElement[Any], ...] = (-S.urgent, -S.warning, -S.info,
                                          S.__table__.c.external_id)
CURSOR_TYPES = (int, int, int, str)


@dataclass(frozen=True)
class PatientRow:
    """One line of the patient list: what needs attention, and when the patient was last seen."""

    external_id: str
    birth_year: int | None
    sex: str | None
    lesions: int
    urgent: int
    warning: int
    info: int
    pending: int
    last_visit: date | None
    next_follow_up: date | None

    @property
    def cursor(self) -> str:
        """Where the list goes on after this row."""
        return encode_cursor((-self.urgent, -self.warning, -self.info, self.external_id))


def check_cursor(after: str) -> str:
    """A cursor of this list (InvalidInput otherwise, naming `after`)."""
    decode_cursor(after, CURSOR_TYPES)
    return after


def search_pattern(search: str) -> str:
    """`%part%` for LIKE, with the wildcards a person typed taken literally ("/" escapes)."""
    part = search.strip().lower()
    for ch in ("/", "%", "_"):
        part = part.replace(ch, "/" + ch)
    return f"%{part}%"


def patient_id_matches(search: str) -> ColumnElement[bool]:
    """The patient id contains `search`, ignoring case (PostgreSQL: the trigram index)."""
    return func.lower(Patient.external_id).like(search_pattern(search), escape="/")


def patient_list(
    session: Session, *, search: str = "", after: str | None = None, page: int = 1,
    per_page: int = 25,
) -> Page[PatientRow]:
    """Patients, those with the most urgent open alerts first: one keyset page (`after`, a
    row's `cursor`; else `page`, counted from the first by offset) and a bounded count."""
    query = select(
        S.external_id, Patient.birth_year, Patient.sex, S.lesions, S.urgent, S.warning, S.info,
        S.pending, S.last_visit, S.next_follow_up,
    ).join(Patient, Patient.id == S.patient_id).order_by(*_ORDER).limit(per_page + 1)
    # Without a search the count reads the summaries' primary key up to the limit (no time
    # limit needed); a search's may read many index entries, and gets one.
    listed = select(S.patient_id)
    if search.strip():
        query = query.where(patient_id_matches(search))
        listed = listed.join(Patient, Patient.id == S.patient_id).where(patient_id_matches(search))
    page = max(1, page)
    if after:
        query = query.where(tuple_(*_ORDER) > tuple_(*decode_cursor(after, CURSOR_TYPES)))
    elif page > 1:
        query = query.offset((page - 1) * per_page)
    rows = session.execute(query).all()
    items = [PatientRow(*r) for r in rows[:per_page]]
    count = bounded_count(session, listed, timeout=bool(search.strip()))
    return Page(items, count.n, page, per_page, total_is=count.kind,
                next_after=items[-1].cursor if len(rows) > per_page else None,
                first=not after and page == 1)
