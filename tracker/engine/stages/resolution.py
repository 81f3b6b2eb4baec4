"""Resolution must be confirmed: the rows the three stage models share.

§2.1 H2c/H2r/H2a/H2b, §2.2 O2c/O2r/O2b and §2.3 G2c/G2r/G2a/G2b (9a.25); then the missed
projection after an unconfirmed negative, §2.1 H4b and §2.2 O4b (9a.26). One film can miss a
deposit: RECIST confirms a complete response >= 4 weeks later [S12]; fluffy deposits vanish far
more often than sharp ones [S24], resorbing ones mostly by the next films [S4], resting ones
persist [S25].

Reading choices:
- MR negatives never count as `n` nor confirm an absence (MR is insensitive to calcification
  [S1]); a carried MR `resolved` (H1/O1/G1) keeps the resolution it carries.
- HO has no `a` row (§2.2 lists O2c, O2r, O2b only): its `n` is always O2b, so O2r carries
  O2b's status, §5 date and final confidence.
- An early second negative (H2r/O2r/G2r) carries `n`'s *final* confidence, modifiers included
  (revision 3): it neither raises nor lowers it, and none of its own §3 modifiers count.
- A missed projection (H4b/O4b) is ruled out by a confirmed absence (H2c/O2c) anywhere between
  `ref(o)` and `o`, carried ones included; an expected one (H2a) does not rule it out (9a.26).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from functools import partial

from tracker.engine.sizes import Change
from tracker.engine.steps import Resolved, Row, StageRow, Step, not_seen_off_mr
from tracker.vocabulary import Resolution, Stage

CONFIRM_ABSENCE_DAYS = 28  # a second negative this long after `n` confirms [S12]
RESOLVED_CONFIRMED = 90  # H2c/O2c/G2c
RESOLVED_EXPECTED = 75  # H2a/G2a: resorbing deposits mostly vanish by the next films [S4][S24]
RESOLVED_UNCONFIRMED = 50  # H2b/O2b/G2b: resting deposits persist [S25]
MISSED_PROJECTION_PENALTY = 10  # H4b/O4b: read through an unconfirmed negative (design)

NOT_SEEN_ONCE = "not seen once; unconfirmed"
NOT_SEEN_AGAIN = "not seen again (< 28 days)"
MISSED_PROJECTION = "seen again, no larger: earlier negative probably a missed projection"


def confirmed_absence(prefix: str, step: Step) -> Row | None:
    """{p}2c: a second non-MR negative >= 28 days after `n`: resolved, confirmed (0.90)."""
    n = step.first_negative
    if (
        not_seen_off_mr(step.finding)
        and n is not None
        and step.date >= n.date + timedelta(days=CONFIRM_ABSENCE_DAYS)
    ):
        return Row(
            f"{prefix}2c",
            Stage.RESOLVED,
            RESOLVED_CONFIRMED,
            not_seen_text=f"absence confirmed (not seen since {n.date.isoformat()})",
            resolved=Resolved(Resolution.CONFIRMED, step.date),
        )
    return None


def early_second_negative(prefix: str, step: Step) -> Row | None:
    """{p}2r: not seen again < 28 days after `n`: `n`'s status, §5 date and final confidence."""
    n = step.first_negative
    if not_seen_off_mr(step.finding) and step.prev_stage is Stage.RESOLVED and n is not None:
        return Row(
            f"{prefix}2r",
            Stage.RESOLVED,
            n.row.base,
            not_seen_text=NOT_SEEN_AGAIN,
            resolved=n.row.resolved,
            final=n.confidence,
        )
    return None


def expected_resolution(prefix: str, resorbed: frozenset[Stage], step: Step) -> Row | None:
    """{p}2a: gone after resorption (regression), on the modality it was last seen on (0.75)."""
    ref = step.ref
    if (
        not_seen_off_mr(step.finding)
        and ref is not None
        and step.prev_stage in resorbed
        and step.finding.modality is ref.modality
    ):
        return Row(
            f"{prefix}2a",
            Stage.RESOLVED,
            RESOLVED_EXPECTED,
            resolved=Resolved(Resolution.EXPECTED, step.date),
        )
    return None


def unconfirmed_resolution(prefix: str, step: Step) -> Row | None:
    """{p}2b: not seen once: resolved, unconfirmed (0.50; §5 looks again in 3 months)."""
    if not_seen_off_mr(step.finding) and step.seen_before:
        return Row(
            f"{prefix}2b",
            Stage.RESOLVED,
            RESOLVED_UNCONFIRMED,
            not_seen_text=NOT_SEEN_ONCE,
            resolved=Resolved(Resolution.UNCONFIRMED, step.date),
        )
    return None


def resolution_rows(prefix: str, resorbed: frozenset[Stage] = frozenset()) -> tuple[StageRow, ...]:
    """A family's resolution rows in table order: {p}2c, {p}2r, {p}2a, {p}2b.

    `resorbed`: the stages after which a negative is the expected end ({p}2a); none for HO.
    """
    rows: list[StageRow] = [
        partial(confirmed_absence, prefix),
        partial(early_second_negative, prefix),
    ]
    if resorbed:
        rows.append(partial(expected_resolution, prefix, resorbed))
    rows.append(partial(unconfirmed_resolution, prefix))
    return tuple(rows)


def read_through_negative(step: Step) -> Step:
    """A missed projection's view of o: earlier observations end at ref(o), so prev(o) reads as
    ref(o) (9a.26)."""
    i = step.ref_index
    return step if i is None else replace(step, earlier=step.earlier[: i + 1])


def confirmed_since_ref(step: Step) -> bool:
    """A confirmed absence between ref(o) and o (MR negatives never confirm)."""
    return any(
        s.row.resolved is not None and s.row.resolved.status is Resolution.CONFIRMED
        for s in step.since_ref
    )


def missed_projection(prefix: str, rows: Sequence[StageRow], step: Step) -> Row | None:
    """{p}4b: seen again after an unconfirmed `resolved`, not grown since ref(o) (§1, xmod
    thresholds across modalities): the negative film missed it. Staged by `rows` reading
    ref(o) for prev(o), at that row's base - 0.10, with the row's notes and the missed-projection
    one; §3-§5 keep the real prev(o)."""
    if step.prev_stage is not Stage.RESOLVED or step.change in (None, Change.GROWTH):
        return None
    if confirmed_since_ref(step):
        return None
    view = read_through_negative(step)
    for row in rows:
        inner = row(view)
        if inner is not None:
            return Row(
                f"{prefix}4b",
                inner.stage,
                inner.base - MISSED_PROJECTION_PENALTY,
                (*inner.notes, MISSED_PROJECTION),
            )
    raise AssertionError("the last row a missed projection reads always matches")


def is_missed_projection(row: Row) -> bool:
    """H4b/O4b: its transition from `resolved` is expected (§2.4)."""
    return MISSED_PROJECTION in row.notes


def reading_step(step: Step, row: Row) -> Step:
    """The view of o its row read: a missed projection reads through the negative."""
    return read_through_negative(step) if is_missed_projection(row) else step
