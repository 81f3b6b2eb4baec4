"""The floor of each page figure: the same rows read straight from the index that fits the
list's sort and filter, by a hand-written statement (or, for a page without a list, the
minimal statements that load what it shows).

The indexes and summaries the floors read do not exist in the product yet: `prepare` creates
them on the scratch copy the pages were just measured on (after the pages, so the product's
figures are the product's), which makes each floor also a prototype of the scale plan in
`bench/README.md`. Only PostgreSQL.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import Connection, text

from bench.steady import log

SEVERITY_RANK_SQL = ("CASE a.severity WHEN 'urgent' THEN 0 WHEN 'warning' THEN 1 "
                     "WHEN 'info' THEN 2 ELSE 99 END")
# The worklist's sort (open and ended snoozes before acknowledged, most severe, oldest, id)
WORKLIST_KEY = f"(a.state = 'acknowledged'), ({SEVERITY_RANK_SQL}), a.since, a.id"

# Each statement is what a migration would run; IF NOT EXISTS so a later product index of the
# same name is simply used.
PREPARE = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # the worklist: uncleared alerts in sort order (keyset pages, bounded counts); named apart
    # from the product's (sort_rank) indexes, which these expression floors cannot use
    "CREATE INDEX IF NOT EXISTS ix_bench_alerts_worklist ON alerts ((state = 'acknowledged'), "
    f"({SEVERITY_RANK_SQL.replace('a.', '')}), since, id) WHERE state <> 'cleared'",
    # filters on the alert's own columns, each in the same sort order after its value
    "CREATE INDEX IF NOT EXISTS ix_bench_alerts_worklist_kind ON alerts (kind, (state = "
    f"'acknowledged'), ({SEVERITY_RANK_SQL.replace('a.', '')}), since, id) "
    "WHERE state <> 'cleared'",
    "CREATE INDEX IF NOT EXISTS ix_bench_alerts_worklist_rule ON alerts (rule, (state = "
    f"'acknowledged'), ({SEVERITY_RANK_SQL.replace('a.', '')}), since, id) "
    "WHERE state <> 'cleared'",
    # a lesion's alerts, cleared ones included (the lesion and patient pages; the FK's cascade)
    "CREATE INDEX IF NOT EXISTS ix_alerts_lesion ON alerts (lesion_id)",
    # filters on the lesion
    "CREATE INDEX IF NOT EXISTS ix_lesions_region ON lesions (region)",
    "CREATE INDEX IF NOT EXISTS ix_lesions_stage ON lesions (current_stage)",
    "CREATE INDEX IF NOT EXISTS ix_lesions_entity ON lesions ((coalesce(entity, "
    "assessed_entity)))",
    "CREATE INDEX IF NOT EXISTS ix_lesions_patient ON lesions (patient_id)",
    # patient search: any part of the id, case-insensitive
    "CREATE INDEX IF NOT EXISTS ix_patients_external_id_trgm ON patients "
    "USING gin (lower(external_id) gin_trgm_ops)",
    # the patient list: one summary row per patient, in the list's order
    "DROP TABLE IF EXISTS bench_patient_summary",
    "CREATE TABLE bench_patient_summary AS SELECT p.id AS patient_id, p.external_id, "
    "coalesce(c.urgent, 0) AS urgent, coalesce(c.warning, 0) AS warning, "
    "coalesce(c.info, 0) AS info, coalesce(s.lesions, 0) AS lesions, "
    "coalesce(s.pending, 0) AS pending, v.last_visit, s.next_follow_up "
    "FROM patients p LEFT JOIN (SELECT l.patient_id, "
    "count(*) FILTER (WHERE a.severity = 'urgent') AS urgent, "
    "count(*) FILTER (WHERE a.severity = 'warning') AS warning, "
    "count(*) FILTER (WHERE a.severity = 'info') AS info FROM alerts a "
    "JOIN lesions l ON l.id = a.lesion_id WHERE a.state = 'open' OR (a.state = 'snoozed' "
    "AND a.snoozed_until <= :today) GROUP BY l.patient_id) c ON c.patient_id = p.id "
    "LEFT JOIN (SELECT patient_id, count(*) AS lesions, count(*) FILTER (WHERE "
    "assessed_version IS DISTINCT FROM data_version) AS pending, min(next_follow_up) AS "
    "next_follow_up FROM lesions GROUP BY patient_id) s ON s.patient_id = p.id "
    "LEFT JOIN (SELECT l.patient_id, max(o.date) AS last_visit FROM observations o "
    "JOIN lesions l ON l.id = o.lesion_id GROUP BY l.patient_id) v ON v.patient_id = p.id",
    "ALTER TABLE bench_patient_summary ADD PRIMARY KEY (patient_id)",
    # most urgent first, then by id: ascending keys (negated counts), so a keyset page is one
    # row comparison on the index
    "CREATE INDEX ix_bench_patient_summary_order ON bench_patient_summary "
    "((-urgent), (-warning), (-info), external_id)",
    # the header: needing-action counts by severity and by the day a snooze ends
    "DROP TABLE IF EXISTS bench_alert_counts",
    "CREATE TABLE bench_alert_counts AS SELECT severity, CASE WHEN state = 'snoozed' "
    "THEN snoozed_until END AS snoozed_until, count(*) AS n FROM alerts "
    "WHERE state IN ('open', 'snoozed') GROUP BY 1, 2",
    "ANALYZE",
)

WORKLIST_ROWS = (
    "SELECT a.id, a.kind, a.severity, a.rule, a.since, a.reason, a.state, a.state_by, "
    "a.state_at, a.state_reason, a.snoozed_until, l.id AS lesion_id, l.external_id, l.region, "
    "l.laterality, p.external_id AS patient FROM alerts a "
    "JOIN lesions l ON l.id = a.lesion_id JOIN patients p ON p.id = l.patient_id "
    "WHERE a.state <> 'cleared' AND (a.state <> 'snoozed' OR a.snoozed_until <= :today) "
    "{where} ORDER BY " + WORKLIST_KEY + " LIMIT :limit"
)
WORKLIST_COUNT = (
    "SELECT count(*) FROM (SELECT 1 FROM alerts a JOIN lesions l ON l.id = a.lesion_id "
    "WHERE a.state <> 'cleared' AND (a.state <> 'snoozed' OR a.snoozed_until <= :today) "
    "{where} LIMIT 10001) AS bounded"
)
# What each worklist filter adds (the same conditions as tracker.queries.worklist).
WORKLIST_WHERE = {
    "kind": "a.kind = :kind",
    "rule": "a.rule = :rule",
    "severity": "a.severity = :severity",
    "region": "l.region = :region",
    "entity": "coalesce(l.entity, l.assessed_entity) = :entity",
    "stage": "l.current_stage = :stage",
    "overdue": "l.next_follow_up < :today",
    "patient": "l.patient_id IN (SELECT id FROM patients WHERE lower(external_id) "
               "LIKE :patient_like)",
}
WORKLIST_STATE = {
    "acknowledged": "a.state = 'acknowledged'",
    "snoozed": "a.state = 'snoozed'",
    "open": "a.state = 'open'",
}

PATIENT_ROWS = (
    "SELECT s.external_id, p.birth_year, p.sex, s.lesions, s.urgent, s.warning, s.info, "
    "s.pending, s.last_visit, s.next_follow_up FROM bench_patient_summary s "
    "JOIN patients p ON p.id = s.patient_id {where} "
    "ORDER BY -s.urgent, -s.warning, -s.info, s.external_id LIMIT :limit"
)
PATIENT_SEARCH = (
    "SELECT s.external_id, p.birth_year, p.sex, s.lesions, s.urgent, s.warning, s.info, "
    "s.pending, s.last_visit, s.next_follow_up FROM patients p "
    "JOIN bench_patient_summary s ON s.patient_id = p.id "
    "WHERE lower(p.external_id) LIKE :like "
    "ORDER BY -s.urgent, -s.warning, -s.info, s.external_id LIMIT :limit"
)
PATIENT_SEARCH_COUNT = (
    "SELECT count(*) FROM (SELECT 1 FROM patients WHERE lower(external_id) LIKE :like "
    "LIMIT 10001) AS bounded"
)
ATTENTION = (
    "SELECT severity, sum(n) FROM bench_alert_counts WHERE snoozed_until IS NULL "
    "OR snoozed_until <= :today GROUP BY severity"
)
# A patient's page: what patient_with_everything loads, by the patient's id.
PATIENT_LOAD = (
    "SELECT * FROM patients WHERE external_id = :patient",
    "SELECT l.* FROM lesions l JOIN patients p ON p.id = l.patient_id "
    "WHERE p.external_id = :patient ORDER BY l.external_id",
    "SELECT o.*, a.* FROM observations o JOIN lesions l ON l.id = o.lesion_id "
    "JOIN patients p ON p.id = l.patient_id LEFT JOIN assessments a ON a.observation_id = o.id "
    "WHERE p.external_id = :patient ORDER BY o.lesion_id, o.date",
    "SELECT f.* FROM observation_features f JOIN observations o ON o.id = f.observation_id "
    "JOIN lesions l ON l.id = o.lesion_id JOIN patients p ON p.id = l.patient_id "
    "WHERE p.external_id = :patient",
    "SELECT t.* FROM treatments t JOIN lesions l ON l.id = t.lesion_id "
    "JOIN patients p ON p.id = l.patient_id WHERE p.external_id = :patient",
    "SELECT t.* FROM transitions t JOIN lesions l ON l.id = t.lesion_id "
    "JOIN patients p ON p.id = l.patient_id WHERE p.external_id = :patient",
    "SELECT a.* FROM alerts a JOIN lesions l ON l.id = a.lesion_id "
    "JOIN patients p ON p.id = l.patient_id WHERE p.external_id = :patient",
)
LESION_LOAD = (
    "SELECT l.*, p.* FROM lesions l JOIN patients p ON p.id = l.patient_id WHERE l.id = :lesion",
    "SELECT o.*, a.* FROM observations o LEFT JOIN assessments a ON a.observation_id = o.id "
    "WHERE o.lesion_id = :lesion ORDER BY o.date",
    "SELECT f.* FROM observation_features f JOIN observations o ON o.id = f.observation_id "
    "WHERE o.lesion_id = :lesion",
    "SELECT * FROM treatments WHERE lesion_id = :lesion",
    "SELECT * FROM transitions WHERE lesion_id = :lesion",
    "SELECT * FROM alerts WHERE lesion_id = :lesion",
)
HISTORY = (
    "SELECT * FROM audit_events WHERE {key} = :id ORDER BY at DESC, id DESC LIMIT :limit",
    "SELECT count(*) FROM (SELECT 1 FROM audit_events WHERE {key} = :id LIMIT 10001) AS b",
)


def prepare(conn: Connection, today: date) -> float:
    """Create the floors' indexes and summaries on the scratch copy; returns seconds."""
    t0 = time.perf_counter()
    for statement in PREPARE:
        t1 = time.perf_counter()
        conn.execute(text(statement), {"today": today} if ":today" in statement else {})
        log(f"floor: {statement[:70]}... {time.perf_counter() - t1:.1f} s")
    conn.commit()
    return time.perf_counter() - t0


def run_all(statements: tuple[str, ...], **params: Any) -> Callable[[Connection], None]:
    """A floor that runs each statement with the parameters it names, fetching every row."""
    def floor(conn: Connection) -> None:
        for statement in statements:
            names = {k: v for k, v in params.items() if f":{k}" in statement}
            conn.execute(text(statement), names).fetchall()
    return floor


def worklist_floor(today: date, flt: dict[str, Any], *, limit: int = 50,
                   after: tuple[Any, ...] | None = None) -> Callable[[Connection], None]:
    """The worklist's page (first, or the one after the row keyed `after`) and its bounded
    count, with the filters of `flt` (keys of WORKLIST_WHERE, plus `state`)."""
    where, params = _worklist_where(today, flt)
    rows_where = where
    if after is not None:
        rows_where += f" AND ({WORKLIST_KEY}) > (:k0, :k1, :k2, :k3)"
        params.update({f"k{i}": v for i, v in enumerate(after)})
    page = WORKLIST_ROWS.format(where=rows_where)
    count = WORKLIST_COUNT.format(where=where)

    def floor(conn: Connection) -> None:
        conn.execute(text(page), {**params, "limit": limit}).fetchall()
        conn.execute(text(count), params).scalar()
    return floor


def _worklist_where(today: date, flt: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    clauses, params = [], {"today": today}
    for key, value in flt.items():
        if key == "state":
            clauses.append(WORKLIST_STATE[value])
        elif key == "patient":
            clauses.append(WORKLIST_WHERE[key])
            params["patient_like"] = f"%{value.lower()}%"
        elif key != "overdue" or value:
            clauses.append(WORKLIST_WHERE[key])
            params[key] = value
    return "".join(f" AND {c}" for c in clauses), params


def worklist_key_at(conn: Connection, today: date, flt: dict[str, Any],
                    position: int) -> tuple[Any, ...] | None:
    """The sort key of the row at `position` (0-based): where a keyset page starts after."""
    where, params = _worklist_where(today, flt)
    row = conn.execute(text(
        f"SELECT a.state = 'acknowledged', {SEVERITY_RANK_SQL}, a.since, a.id FROM alerts a "
        "JOIN lesions l ON l.id = a.lesion_id WHERE a.state <> 'cleared' AND (a.state <> "
        f"'snoozed' OR a.snoozed_until <= :today) {where} ORDER BY {WORKLIST_KEY} "
        "OFFSET :n LIMIT 1"), {**params, "n": position}).first()
    return tuple(row) if row is not None else None


def patients_floor(*, limit: int = 25, after: tuple[Any, ...] | None = None
                   ) -> Callable[[Connection], None]:
    where, params = "", {}
    if after is not None:
        where = "WHERE (-s.urgent, -s.warning, -s.info, s.external_id) > (:u, :w, :i, :x)"
        params = dict(zip(("u", "w", "i", "x"), after, strict=True))
    statement = PATIENT_ROWS.format(where=where)

    def floor(conn: Connection) -> None:
        conn.execute(text(statement), {**params, "limit": limit}).fetchall()
        conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'patients'")).scalar()
    return floor


def patient_key_at(conn: Connection, position: int) -> tuple[Any, ...]:
    row = conn.execute(text(
        "SELECT -urgent, -warning, -info, external_id FROM bench_patient_summary "
        "ORDER BY -urgent, -warning, -info, external_id OFFSET :n LIMIT 1"),
        {"n": position}).one()
    return tuple(row)


def search_floor(q: str, *, limit: int = 25) -> Callable[[Connection], None]:
    like = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

    def floor(conn: Connection) -> None:
        conn.execute(text(PATIENT_SEARCH), {"like": like, "limit": limit}).fetchall()
        conn.execute(text(PATIENT_SEARCH_COUNT), {"like": like}).scalar()
    return floor


def history_floor(key: str, row_id: int, limit: int) -> Callable[[Connection], None]:
    return run_all(tuple(s.format(key=key) for s in HISTORY), id=row_id, limit=limit)


# --------------------------------------------------------------------------- the cohort

COHORT_TABLE = (
    "DROP TABLE IF EXISTS bench_cohort_subject",
    "CREATE TABLE bench_cohort_subject (lesion_id integer PRIMARY KEY, days integer NOT NULL, "
    "resolved boolean NOT NULL, entity text, gartner text, bosworth text, region text, "
    "compartment text, best_change_pct real)",
)
COHORT_GROUPED = (
    "SELECT days, resolved, count(*) FROM bench_cohort_subject GROUP BY days, resolved"
)


def prepare_cohort(url: str) -> tuple[list[Any], float]:
    """Each lesion's (duration, event, strata) as the product computes it (tracker.cohort),
    stored one row per lesion: what an assessment would maintain. Returns the subjects."""
    from tracker.cohort import subjects
    from tracker.db import engine_for, session_factory

    t0 = time.perf_counter()
    with session_factory(url)() as s:
        items, _ = subjects(s)
    out = io.StringIO()
    for i in items:
        g = i.groups
        change = "" if i.best_change_pct is None else i.best_change_pct
        out.write(f"{i.lesion_id}\t{i.days}\t{'t' if i.resolved else 'f'}\t{g['entity']}\t"
                  f"{g['gartner']}\t{g['bosworth']}\t{g['region']}\t{g['compartment']}\t"
                  f"{change if change != '' else chr(92) + 'N'}\n")
    raw = engine_for(url).raw_connection()
    try:
        cur = raw.cursor()
        for statement in COHORT_TABLE:
            cur.execute(statement)
        with cur.copy("COPY bench_cohort_subject FROM STDIN") as copy:  # type: ignore[attr-defined]
            copy.write(out.getvalue())
        cur.execute("ANALYZE bench_cohort_subject")
        raw.commit()
    finally:
        raw.close()
    return items, time.perf_counter() - t0


def weighted_fit(rows: list[Any]) -> Any:
    """Kaplan-Meier on grouped durations: one (days, resolved) row per distinct pair, its
    count as the weight."""
    from lifelines import KaplanMeierFitter

    return KaplanMeierFitter().fit([r[0] for r in rows], [r[1] for r in rows],
                                   weights=[r[2] for r in rows], label="all")


def cohort_floor(conn: Connection) -> None:
    weighted_fit(conn.execute(text(COHORT_GROUPED)).all())
