"""Keeps `cohort_subjects` equal to what `tracker.cohort.subject_rows` computes from scratch,
and `cohort_counts` / `cohort_response_counts` equal to those rows counted.

Written in the transactions that change what a row depends on, never later: the assessment
chunk replaces its lesions' rows (after it stored their stages), and whatever marks a lesion
for assessment or deletes it removes its row first (its stages are pending until the next
assessment, and a pending lesion is left out of the cohort, as it was before rows were kept).
Replacing is one DELETE ... RETURNING of the old rows and one INSERT of the new, recomputed
from what the transaction sees; the counts move by the difference (old -1, new +1), one
upsert per table with the keys sorted, so two writers on shared keys wait for each other in
the same order instead of deadlocking, and neither loses the other's increment
(`n = n + excluded.n` under the row lock).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, delete
from sqlalchemy.orm import Session

from tracker.cohort import STORED, response_pct, subject_rows
from tracker.cohort_table import CohortCount, CohortResponseCount, CohortSubject
from tracker.db import insert_of

_S: Table = CohortSubject.__table__  # type: ignore[assignment]
_COUNTS: Table = CohortCount.__table__  # type: ignore[assignment]
_RESPONSES: Table = CohortResponseCount.__table__  # type: ignore[assignment]
COUNT_KEYS = (*STORED, "days", "resolved")
RESPONSE_KEYS = ("entity", "region", "compartment", "pct")


# ids per statement when forgetting many (a whole import): below every driver's parameter limit
FORGET_BATCH = 5000


def forget_cohort_subjects(session: Session, lesion_ids: Sequence[int]) -> None:
    """The lesions' data changed (or they go): their rows go until they are assessed again."""
    ordered = sorted(lesion_ids)
    for start in range(0, len(ordered), FORGET_BATCH):
        _replace(session, ordered[start:start + FORGET_BATCH], [])


def refresh_cohort_subjects(session: Session, lesion_ids: Sequence[int]) -> None:
    """Recompute the lesions' rows from their stored stages (only the current ones get one)."""
    if lesion_ids:
        _replace(session, lesion_ids,
                 [s.row() for s in subject_rows(session, sorted(lesion_ids))])


def count_keys(rows: Iterable[Any]) -> tuple[Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
    counts: Counter[tuple[Any, ...]] = Counter()
    responses: Counter[tuple[Any, ...]] = Counter()
    for r in rows:
        counts[tuple(r[k] for k in COUNT_KEYS)] += 1
        pct = response_pct(r["best_change_pct"])
        if pct is not None:
            responses[(r["entity"], r["region"], r["compartment"], pct)] += 1
    return counts, responses


def _replace(session: Session, lesion_ids: Sequence[int], rows: list[dict[str, Any]]) -> None:
    if not lesion_ids:
        return
    old = [dict(r._mapping) for r in session.execute(
        delete(_S).where(_S.c.lesion_id.in_(sorted(lesion_ids)))
        .returning(*(_S.c[k] for k in (*COUNT_KEYS, "best_change_pct"))))]
    if rows:
        session.execute(_S.insert(), rows)
    new_counts, new_responses = count_keys(rows)
    old_counts, old_responses = count_keys(old)
    for table, keys, new, gone in ((_COUNTS, COUNT_KEYS, new_counts, old_counts),
                                   (_RESPONSES, RESPONSE_KEYS, new_responses, old_responses)):
        delta = {k: new[k] - gone[k] for k in set(new) | set(gone) if new[k] != gone[k]}
        if delta:
            _add(session, table, keys, delta)


def _add(session: Session, table: Table, keys: Sequence[str],
         delta: dict[tuple[Any, ...], int]) -> None:
    """Add each delta to its count (a new key starts at 0); counts back to 0 are removed."""
    stmt = insert_of(session, table).values(
        [{**dict(zip(keys, k, strict=True)), "n": n} for k, n in sorted(delta.items())])
    session.execute(stmt.on_conflict_do_update(
        index_elements=list(keys), set_={"n": table.c.n + stmt.excluded.n}))
    if any(n < 0 for n in delta.values()):
        session.execute(delete(table).where(table.c.n <= 0))
