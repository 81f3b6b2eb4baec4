"""The scale plan's riskiest parts, prototyped in SQL on a copy of the steady state:
`python -m bench.prototypes [--scale quick|full] [--database NAME]`.

On a fresh copy of the template (or on `--database`, e.g. one kept by `bench.run --keep`,
where the floors' indexes and summaries already exist), it adds what `bench/README.md`'s
"Scale plan" proposes and times each query shape, p50/p95 of 15 runs:

* the worklist on alerts carrying their sort rank and their lesion's filter columns, with a
  keyset page and a bounded count under a 100 ms statement timeout (the planner's estimate
  when it times out);
* the rule filter's choices by a skip scan instead of `SELECT DISTINCT`;
* per-patient summaries refreshed by lock-and-recompute for 500 patients (rolled back);
* the header's counters as one delta upsert (rolled back);
* the cohort from a grouped counts table, fitted with weights.

The copy it makes is dropped afterwards; `--database` is altered in place (it is a scratch copy).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

from bench import floors
from bench.pages import TEMPLATES, percentile
from bench.run import PG, SCALES
from bench.steady import TODAY, database_url, log, template_copy
from tracker.db import engine_for

RANK = ("(CASE WHEN state = 'acknowledged' THEN 3 ELSE 0 END) + "
        "(CASE severity WHEN 'urgent' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END)")
WORKLIST_SCHEMA = (
    "ALTER TABLE alerts ADD COLUMN IF NOT EXISTS sort_rank smallint, "
    "ADD COLUMN IF NOT EXISTS patient_id integer, ADD COLUMN IF NOT EXISTS l_region varchar(20), "
    "ADD COLUMN IF NOT EXISTS l_entity varchar(40), ADD COLUMN IF NOT EXISTS l_stage varchar(20), "
    "ADD COLUMN IF NOT EXISTS l_next_follow_up date",
    f"UPDATE alerts a SET sort_rank = {RANK}, patient_id = l.patient_id, l_region = l.region, "
    "l_entity = coalesce(l.entity, l.assessed_entity), l_stage = l.current_stage, "
    "l_next_follow_up = l.next_follow_up FROM lesions l WHERE l.id = a.lesion_id "
    "AND a.state <> 'cleared' AND a.sort_rank IS NULL",
    *(f"CREATE INDEX IF NOT EXISTS ix_proto_wl_{name} ON alerts ({cols}sort_rank, since, id) "
      "WHERE state <> 'cleared'"
      for name, cols in (("rank", ""), ("kind", "kind, "), ("rule", "rule, "),
                         ("region", "l_region, "), ("entity", "l_entity, "),
                         ("stage", "l_stage, "), ("patient", "patient_id, "))),
    "CREATE INDEX IF NOT EXISTS ix_proto_snoozed ON alerts (snoozed_until) "
    "WHERE state = 'snoozed'",
    "ANALYZE alerts",
)
ROWS = (
    "SELECT a.id, a.kind, a.severity, a.rule, a.since, a.reason, a.state, a.state_by, "
    "a.state_at, a.state_reason, a.snoozed_until, a.lesion_id, l.external_id, l.region, "
    "l.laterality, p.external_id FROM alerts a JOIN lesions l ON l.id = a.lesion_id "
    "JOIN patients p ON p.id = a.patient_id WHERE a.state <> 'cleared' AND "
    "(a.state <> 'snoozed' OR a.snoozed_until <= :today) {w} "
    "ORDER BY a.sort_rank, a.since, a.id LIMIT :limit"
)
COUNT = (
    "SELECT count(*) FROM (SELECT 1 FROM alerts a WHERE a.state <> 'cleared' AND "
    "(a.state <> 'snoozed' OR a.snoozed_until <= :today) {w} LIMIT 10001) AS bounded"
)
FILTERS = {
    "kind": "a.kind = :kind", "rule": "a.rule = :rule", "severity": "a.sort_rank IN (:r1, :r2)",
    "region": "a.l_region = :region", "entity": "a.l_entity = :entity",
    "stage": "a.l_stage = :stage", "overdue": "a.l_next_follow_up < :today",
    "acknowledged": "a.sort_rank >= 3", "snoozed": "a.state = 'snoozed'",
    "patient": "a.patient_id IN (SELECT id FROM patients WHERE lower(external_id) LIKE :like)",
}
SEVERITY_RANKS = {"urgent": (0, 3), "warning": (1, 4), "info": (2, 5)}
CASES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("default", {}), ("overdue", {"overdue": True}), ("kind", {"kind": "no_resolution"}),
    ("rule", {"rule": "ho.not_maturing"}),
    ("overdue + kind + rule", {"overdue": True, "kind": "no_resolution",
                               "rule": "hadd.no_resolution"}),
    ("severity urgent", {"severity": "urgent"}), ("entity hadd", {"entity": "hadd"}),
    ("stage resting", {"stage": "resting"}), ("region shoulder", {"region": "shoulder"}),
    ("state acknowledged", {"acknowledged": True}), ("state snoozed", {"snoozed": True}),
    ("patient id part 0042-7", {"patient": "0042-7"}),
    ("no row: ho_atypical + shoulder", {"kind": "ho_atypical", "region": "shoulder"}),
    ("severity + stage + region", {"severity": "warning", "stage": "resting",
                                   "region": "shoulder"}),
    ("kind regrowth + entity gout", {"kind": "unexpected_regrowth", "entity": "gout"}),
)
RULES_SKIP_SCAN = (
    "WITH RECURSIVE r AS (SELECT min(rule) AS rule FROM alerts WHERE state <> 'cleared' "
    "UNION ALL SELECT (SELECT min(rule) FROM alerts WHERE state <> 'cleared' AND rule > r.rule) "
    "FROM r WHERE r.rule IS NOT NULL) SELECT rule FROM r WHERE rule IS NOT NULL"
)
SUMMARY_LOCK = ("SELECT patient_id FROM bench_patient_summary WHERE patient_id = ANY(:ids) "
                "ORDER BY patient_id FOR UPDATE")
_OPEN = ("(SELECT count(*) FROM alerts a JOIN lesions l ON l.id = a.lesion_id WHERE "
         "l.patient_id = p.id AND a.state = 'open' AND a.severity = '{}')")
SUMMARY_REFRESH = (
    "INSERT INTO bench_patient_summary (patient_id, external_id, urgent, warning, info, "
    "lesions, pending, last_visit, next_follow_up) SELECT p.id, p.external_id, "
    f"{_OPEN.format('urgent')}, {_OPEN.format('warning')}, {_OPEN.format('info')}, "
    "(SELECT count(*) FROM lesions l WHERE l.patient_id = p.id), "
    "(SELECT count(*) FROM lesions l WHERE l.patient_id = p.id "
    "AND l.assessed_version IS DISTINCT FROM l.data_version), "
    "(SELECT max(o.date) FROM observations o JOIN lesions l ON l.id = o.lesion_id "
    "WHERE l.patient_id = p.id), "
    "(SELECT min(l.next_follow_up) FROM lesions l WHERE l.patient_id = p.id) "
    "FROM patients p WHERE p.id = ANY(:ids) ON CONFLICT (patient_id) DO UPDATE SET "
    "urgent = excluded.urgent, warning = excluded.warning, info = excluded.info, "
    "lesions = excluded.lesions, pending = excluded.pending, last_visit = excluded.last_visit, "
    "next_follow_up = excluded.next_follow_up"
)
COHORT_COUNTS = (
    "DROP TABLE IF EXISTS bench_cohort_counts",
    "CREATE TABLE bench_cohort_counts AS SELECT entity, gartner, bosworth, region, "
    "compartment, days, resolved, count(*)::int AS n FROM bench_cohort_subject "
    "GROUP BY 1, 2, 3, 4, 5, 6, 7",
    "ANALYZE bench_cohort_counts",
)


def timeit(url: str, name: str, run: Callable[[Connection], None], n: int = 15) -> None:
    with engine_for(url).connect() as conn:
        run(conn)
        conn.rollback()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            run(conn)
            conn.rollback()
            times.append((time.perf_counter() - t0) * 1000)
    print(f"{name:60} p50 {percentile(times, .5):8.1f} ms  p95 "
          f"{percentile(times, .95):8.1f} ms", flush=True)


def worklist(flt: dict[str, Any], after: tuple[Any, ...] | None = None
             ) -> Callable[[Connection], None]:
    """A page of the worklist and its bounded count (estimate when the count times out)."""
    where = "".join(" AND " + FILTERS[k] for k in flt)
    params: dict[str, Any] = {"today": TODAY, "limit": 50}
    for key, value in flt.items():
        if key == "severity":
            params["r1"], params["r2"] = SEVERITY_RANKS[value]
        elif key == "patient":
            params["like"] = f"%{value}%"
        elif key not in ("acknowledged", "snoozed"):
            params[key] = value
    rows_where = where
    if after is not None:
        rows_where += " AND (a.sort_rank, a.since, a.id) > (:k0, :k1, :k2)"
        params.update(k0=after[0], k1=after[1], k2=after[2])

    def run(conn: Connection) -> None:
        conn.execute(text(ROWS.format(w=rows_where)), params).fetchall()
        conn.execute(text("SET LOCAL statement_timeout = '100ms'"))
        try:
            conn.execute(text(COUNT.format(w=where)), params).scalar()
        except OperationalError:  # the count took too long: the planner's estimate instead
            conn.rollback()
            conn.execute(text("EXPLAIN " + COUNT.format(w=where)), params).all()
    return run


def run_all(url: str) -> None:
    with engine_for(url).connect() as conn:
        if conn.scalar(text("SELECT to_regclass('bench_patient_summary')")) is None:
            floors.prepare(conn, TODAY)
        for statement in WORKLIST_SCHEMA:
            t0 = time.perf_counter()
            conn.execute(text(statement))
            log(f"prototype: {statement[:60]}... {time.perf_counter() - t0:.1f} s")
        conn.commit()
        key = conn.execute(text(
            "SELECT sort_rank, since, id FROM alerts WHERE state <> 'cleared' AND (state <> "
            "'snoozed' OR snoozed_until <= :t) ORDER BY sort_rank, since, id OFFSET :n LIMIT 1"
        ), {"t": TODAY, "n": 199 * 50 - 1}).first()
        patients = list(conn.scalars(text("SELECT id FROM patients ORDER BY id")))
    for name, flt in CASES:
        timeit(url, f"worklist, {name}", worklist(flt))
    if key is not None:
        timeit(url, "worklist, page 200 (keyset)", worklist({}, after=tuple(key)))
    timeit(url, "rule choices: SELECT DISTINCT rule (today)",
           lambda c: c.execute(text("SELECT DISTINCT rule FROM alerts ORDER BY rule")).all(), 5)
    timeit(url, "rule choices: skip scan", lambda c: c.execute(text(RULES_SKIP_SCAN)).all())
    rng = random.Random(3)

    def refresh(conn: Connection) -> None:
        ids = sorted(rng.sample(patients, min(500, len(patients))))
        conn.execute(text(SUMMARY_LOCK), {"ids": ids}).all()
        conn.execute(text(SUMMARY_REFRESH), {"ids": ids})
    timeit(url, "patient summaries: lock + recompute 500 (rolled back)", refresh, 10)

    def counters(conn: Connection) -> None:
        conn.execute(text("CREATE TEMP TABLE IF NOT EXISTS t_counts (severity text, state text, "
                          "n int, PRIMARY KEY (severity, state))"))
        conn.execute(text("INSERT INTO t_counts VALUES ('urgent', 'open', 3), ('warning', "
                          "'open', -2), ('info', 'open', 5) ON CONFLICT (severity, state) DO "
                          "UPDATE SET n = t_counts.n + excluded.n"))
    timeit(url, "header counters: one delta upsert (rolled back)", counters)
    _cohort(url)


def _cohort(url: str) -> None:
    with engine_for(url).connect() as conn:
        if conn.scalar(text("SELECT to_regclass('bench_cohort_subject')")) is None:
            conn.commit()
            floors.prepare_cohort(url)
        for statement in COHORT_COUNTS:
            conn.execute(text(statement))
        conn.commit()
        groups = conn.scalar(text("SELECT count(*) FROM bench_cohort_counts"))
    log(f"prototype: cohort counts table, {groups} (strata, days, resolved) rows")

    def grouped(sql: str) -> Callable[[Connection], None]:
        return lambda c: floors.weighted_fit(c.execute(text(sql)).all())

    def by_entity(conn: Connection) -> None:
        rows = conn.execute(text("SELECT entity, days, resolved, sum(n) FROM bench_cohort_counts "
                                 "GROUP BY 1, 2, 3 ORDER BY 1")).all()
        for _, group in groupby(rows, key=lambda r: r[0]):
            floors.weighted_fit([(r[1], r[2], r[3]) for r in group])
    timeit(url, "cohort: per-lesion rows GROUP BY + weighted fit",
           grouped(floors.COHORT_GROUPED), 7)
    timeit(url, "cohort: counts table, everyone + weighted fit",
           grouped("SELECT days, resolved, sum(n) FROM bench_cohort_counts GROUP BY 1, 2"))
    timeit(url, "cohort: counts table, entity hadd", grouped(
        "SELECT days, resolved, sum(n) FROM bench_cohort_counts WHERE entity = 'hadd' "
        "GROUP BY 1, 2"))
    timeit(url, "cohort: counts table, by entity (a fit per stratum)", by_entity, 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="quick")
    parser.add_argument("--database", default=None,
                        help="a scratch copy to alter in place instead of a fresh copy")
    args = parser.parse_args()
    if args.database:
        run_all(database_url(PG, args.database))
        return
    scale = SCALES[args.scale]
    template = TEMPLATES[args.scale]
    with template_copy(PG, template, scale.page_sample, scale.page_copies,
                       f"{template}_prototypes") as url:
        run_all(url)


if __name__ == "__main__":
    main()
