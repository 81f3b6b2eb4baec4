"""Every page and API list at scale: p50 and p95 through the Flask test client, warm, signed
in, each beside its floor (`bench/floors.py`), on a copy of the steady-state template
(`bench/steady.py`): `python -m bench.run --scale quick|full --only pages`.

Each case is requested once to warm (caches, the statement's plan), then timed until it has
`SAMPLES` requests or has spent `BUDGET_S` (at least `MIN_SAMPLES`). One more request runs
under the statement counter: its statements and parameters go to
`bench/results/pages-statements.json`, and with `--explain`, each statement of a case slower
than the target is run again as EXPLAIN (ANALYZE, BUFFERS) into
`bench/results/pages-explain.txt`. The cohort page's peak RSS is measured around its first
request (Linux: VmHWM, reset through /proc/self/clear_refs).
"""

from __future__ import annotations

import gc
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from bench import floors
from bench.steady import TODAY, copy_of, drop, ensure_template, log
from testkit.statements import statements as statements_run
from tracker.db import engine_for

TARGET_MS = 300.0
SEARCH_TARGET_MS = 100.0
SAMPLES, MIN_SAMPLES, BUDGET_S = 20, 3, 30.0
RESULTS = Path(__file__).resolve().parent / "results"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TEMPLATES = {"quick": "calcitrack_bench_10k", "full": "calcitrack_bench_1m"}


@dataclass
class Case:
    """One page or list: a GET through the test client (or a call), and its floor."""

    name: str
    path: str | None
    floor: Callable[[Connection], None] | None
    late_floor: Callable[[Connection], Callable[[Connection], None]] | None = None
    target_ms: float = TARGET_MS
    times: list[float] = field(default_factory=list)
    floor_times: list[float] = field(default_factory=list)
    statements: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --------------------------------------------------------------------------- what is asked


def _targets(conn: Connection) -> dict[str, Any]:
    """Rows the cases ask for, found in the steady state (deterministic: the cohort is
    seeded)."""
    lesion = conn.execute(text(
        "SELECT l.id FROM lesions l JOIN alerts a ON a.lesion_id = l.id AND a.state = 'open' "
        "WHERE l.id IN (SELECT lesion_id FROM treatments) AND (SELECT count(*) FROM "
        "observations o WHERE o.lesion_id = l.id) >= 4 ORDER BY l.id LIMIT 1")).scalar_one()
    obs = conn.execute(text("SELECT id FROM observations WHERE lesion_id = :l ORDER BY date"),
                       {"l": lesion}).scalars().all()
    patient = conn.execute(text(
        "SELECT p.external_id, p.id FROM patients p JOIN lesions l ON l.patient_id = p.id "
        "WHERE l.id = :l"), {"l": lesion}).one()
    busiest = conn.execute(text(
        "SELECT patient_id FROM audit_events WHERE patient_id IS NOT NULL GROUP BY patient_id "
        "ORDER BY count(*) DESC, patient_id LIMIT 1")).scalar_one()
    busiest_ext = conn.execute(text("SELECT external_id FROM patients WHERE id = :p"),
                               {"p": busiest}).scalar_one()
    return {"lesion": lesion, "first_obs": obs[0], "last_obs": obs[-1], "patient": patient[0],
            "patient_id": patient[1], "busiest": busiest_ext, "busiest_id": busiest}


def cases(conn: Connection, t: dict[str, Any]) -> list[Case]:
    """Every page and API list, with its floor."""
    today = TODAY
    wl = floors.worklist_floor
    # page 200, or the last page of a smaller steady state (quick)
    deep_alerts = floors.worklist_key_at(conn, today, {},
                                         min(199 * 50, _deep(conn, 50, "alerts")) - 1)
    deepest_alerts = floors.worklist_key_at(conn, today, {}, _deep(conn, 50, "alerts") - 1)
    api_deep = floors.worklist_key_at(conn, today, {},
                                      min(199 * 200, _deep(conn, 200, "alerts")) - 1)
    deep_patients_page = _deep(conn, 25, "patients") // 25
    combo = {"overdue": True, "kind": "no_resolution", "rule": "hadd.no_resolution"}
    rare = {"kind": "ho_atypical", "region": "shoulder"}  # ho.atypical is never a shoulder's
    out = [
        Case("worklist, default", "/alerts", wl(today, {})),
        Case("worklist, overdue", "/alerts?overdue=true", wl(today, {"overdue": True})),
        Case("worklist, kind", "/alerts?kind=no_resolution", wl(today, {"kind": "no_resolution"})),
        Case("worklist, rule", "/alerts?rule=ho.not_maturing",
             wl(today, {"rule": "ho.not_maturing"})),
        Case("worklist, overdue + kind + rule",
             "/alerts?overdue=true&kind=no_resolution&rule=hadd.no_resolution", wl(today, combo)),
        Case("worklist, severity urgent", "/alerts?severity=urgent",
             wl(today, {"severity": "urgent"})),
        Case("worklist, entity hadd", "/alerts?entity=hadd", wl(today, {"entity": "hadd"})),
        Case("worklist, stage resting", "/alerts?stage=resting", wl(today, {"stage": "resting"})),
        Case("worklist, region shoulder", "/alerts?region=shoulder",
             wl(today, {"region": "shoulder"})),
        Case("worklist, state acknowledged", "/alerts?state=acknowledged",
             wl(today, {"state": "acknowledged"})),
        Case("worklist, state snoozed", "/alerts?state=snoozed", wl(today, {"state": "snoozed"})),
        Case("worklist, patient id part", "/alerts?patient=0042-7",
             wl(today, {"patient": "0042-7"})),
        Case("worklist, no row matches (kind ho_atypical + region shoulder)",
             "/alerts?kind=ho_atypical&region=shoulder", wl(today, rare)),
        Case("worklist, severity + stage + region",
             "/alerts?severity=warning&stage=resting&region=shoulder",
             wl(today, {"severity": "warning", "stage": "resting", "region": "shoulder"})),
        Case("worklist, page 200 (keyset)", f"/alerts?after={_cursor(deep_alerts)}",
             wl(today, {}, after=deep_alerts)),
        Case("worklist, last page (keyset)", f"/alerts?after={_cursor(deepest_alerts)}",
             wl(today, {}, after=deepest_alerts)),
        Case("patients, first page", "/patients", None,
             late_floor=lambda _c: floors.patients_floor()),
        Case(f"patients, page {deep_patients_page}",
             f"/patients?after={_patient_cursor(conn, (deep_patients_page - 1) * 25 - 1)}",
             None, late_floor=lambda c: floors.patients_floor(
                 after=floors.patient_key_at(c, (deep_patients_page - 1) * 25 - 1))),
        Case("patient search, id prefix (P00012)", "/patients?q=P00012",
             floors.search_floor("P00012"), target_ms=SEARCH_TARGET_MS),
        Case("patient search, substring (0042-7)", "/patients?q=0042-7",
             floors.search_floor("0042-7"), target_ms=SEARCH_TARGET_MS),
        Case("patient search, broad (P0)", "/patients?q=P0", floors.search_floor("P0"),
             target_ms=SEARCH_TARGET_MS),
        Case("GET /api/v1/alerts", "/api/v1/alerts", wl(today, {})),
        Case("GET /api/v1/alerts?severity=warning&kind=no_resolution",
             "/api/v1/alerts?severity=warning&kind=no_resolution",
             wl(today, {"severity": "warning", "kind": "no_resolution"})),
        Case("GET /api/v1/alerts, page 200 x 200 (keyset)",
             f"/api/v1/alerts?per_page=200&after={_cursor(api_deep)}",
             wl(today, {}, limit=200, after=api_deep)),
        Case("GET /api/v1/patients", "/api/v1/patients", None,
             late_floor=lambda _c: floors.patients_floor(limit=50)),
        Case("GET /api/v1/patients?q=P00012", "/api/v1/patients?q=P00012",
             floors.search_floor("P00012", limit=50), target_ms=SEARCH_TARGET_MS),
        Case("cohort page (Kaplan-Meier by family, everyone)", "/cohort", None),
        Case("cohort Kaplan-Meier chart (SVG, by entity: 15 curves)", "/cohort/km.svg?by=entity",
             None),
        Case("cohort waterfall chart (SVG)", "/cohort/waterfall.svg", None),
        Case("patient timeline, largest (50 lesions x 10 visits)", "/patients/PAGE-50",
             floors.run_all(floors.PATIENT_LOAD, patient="PAGE-50")),
        Case("patient timeline, 5 lesions x 10 visits", "/patients/PAGE-5",
             floors.run_all(floors.PATIENT_LOAD, patient="PAGE-5")),
        Case("patient timeline, cohort patient", f"/patients/{t['patient']}",
             floors.run_all(floors.PATIENT_LOAD, patient=t["patient"])),
        Case("lesion page", f"/lesions/{t['lesion']}",
             floors.run_all(floors.LESION_LOAD, lesion=t["lesion"])),
        Case("compare visits", f"/lesions/{t['lesion']}/compare?a={t['first_obs']}"
             f"&b={t['last_obs']}", floors.run_all(floors.LESION_LOAD, lesion=t["lesion"])),
        Case("patient history", f"/patients/{t['busiest']}/history",
             floors.history_floor("patient_id", t["busiest_id"], 50)),
        Case("lesion history", f"/lesions/{t['lesion']}/history",
             floors.history_floor("lesion_id", t["lesion"], 100)),
        Case("timepoints page (50 lesions)", "/patients/PAGE-50/timepoints",
             floors.run_all(floors.PATIENT_LOAD, patient="PAGE-50")),
        Case("header alert counts (attention_counts, on every page)", None,
             floors.run_all((floors.ATTENTION,), today=today)),
    ]
    return out


def _cursor(key: tuple[Any, ...] | None) -> str:
    """The worklist's `after` cursor for a floor's key (acknowledged?, severity rank, since,
    id): the product's sort key is one column, 3 x acknowledged + severity rank."""
    from tracker.models import ACKNOWLEDGED_RANK
    from tracker.queries.paging import encode_cursor

    assert key is not None, "the steady state has fewer alerts than the deep page needs"
    handled, rank, since, alert_id = key
    return encode_cursor((ACKNOWLEDGED_RANK * int(handled) + int(rank), since, alert_id))


def _patient_cursor(conn: Connection, position: int) -> str:
    """The list's cursor after the row at `position` (what the page before's Next link holds)."""
    from tracker.queries.paging import encode_cursor

    row = conn.execute(text(
        "SELECT -urgent, -warning, -info, external_id FROM patient_summaries "
        "ORDER BY -urgent, -warning, -info, external_id OFFSET :n LIMIT 1"),
        {"n": position}).one()
    return encode_cursor(tuple(row))


def _deep(conn: Connection, per_page: int, what: str) -> int:
    """The position of the last page's first row (rounded to whole pages)."""
    if what == "alerts":
        n = conn.execute(text(
            "SELECT count(*) FROM alerts WHERE state <> 'cleared' AND (state <> 'snoozed' "
            "OR snoozed_until <= :today)"), {"today": TODAY}).scalar_one()
    else:
        n = conn.execute(text("SELECT count(*) FROM patients")).scalar_one()
    return max(1, (int(n) - 1) // per_page * per_page)


# --------------------------------------------------------------------------- measuring


def signed_in_client(url: str) -> Any:
    """The app (TODAY pinned to the steady state's day) and a test client signed in as a new
    clinician."""
    from tracker.db import session_factory
    from tracker.services.users import create_user
    from web import create_app

    with session_factory(url)() as s:
        create_user(s, "bench", "bench-password-1", "clinician", actor="bench")
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench",
                      "SESSION_COOKIE_SECURE": False, "TODAY": TODAY})
    gc.freeze()  # as create_app does outside tests (TESTING turns it off)
    client = app.test_client()
    token = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"username": "bench", "password": "bench-password-1",
                                "csrf_token": token})
    assert client.get("/api/v1/alerts?per_page=1").status_code == 200, "bench user not signed in"
    return app, client


def _peak_rss_reset() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def _timed(run: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    run()
    return (time.perf_counter() - t0) * 1000


def _repeat(run: Callable[[], None], first_ms: float) -> list[float]:
    times = []
    n = SAMPLES if first_ms * SAMPLES <= BUDGET_S * 1000 else max(
        MIN_SAMPLES, int(BUDGET_S * 1000 // max(first_ms, 1)))
    for _ in range(n):
        times.append(_timed(run))
    return times


def _request(app: Any, client: Any, path: str | None) -> Callable[[], None]:
    """A GET of `path` that must answer 200; without a path, the header's counts alone."""
    from tracker.queries.worklist import attention_counts
    from web.db import get_session

    def counts() -> None:
        with app.test_request_context("/"):
            attention_counts(get_session(), today=TODAY)

    def get() -> None:
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])

    return counts if path is None else get


def measure_pages(url: str, selected: list[Case], app: Any, client: Any) -> dict[str, Any]:
    """Time every case through the client; capture each one's statements once."""
    engine = engine_for(url)
    extra: dict[str, Any] = {}
    for case in selected:
        run = _request(app, client, case.path)
        reset = case.path == "/cohort" and _peak_rss_reset()
        before = _peak_rss_mb()
        params: list[Any] = []
        with statements_run(engine, params) as seen:
            first = _timed(run)  # warms, and shows the statements
        if reset:
            extra["cohort peak RSS MB"] = _peak_rss_mb()
            extra["RSS before cohort MB"] = before
        case.statements = [{"sql": s, "params": _jsonable(p)} for s, p in zip(seen, params,
                                                                              strict=True)]
        case.times = _repeat(run, first)
        log(f"pages: {case.name}: p50 {percentile(case.times, .5):.1f} ms, p95 "
            f"{percentile(case.times, .95):.1f} ms ({len(case.times)} runs, "
            f"{len(seen)} statements)")
    return extra


def measure_floors(url: str, selected: list[Case]) -> None:
    engine = engine_for(url)
    with engine.connect() as conn:
        for case in selected:
            if case.floor is None:
                continue
            floor = case.floor

            def run() -> None:
                floor(conn)  # noqa: B023
                conn.rollback()
            first = _timed(run)
            case.floor_times = _repeat(run, first)
            log(f"floors: {case.name}: p50 {percentile(case.floor_times, .5):.1f} ms, p95 "
                f"{percentile(case.floor_times, .95):.1f} ms")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return str(value)


def explain(url: str, selected: list[Case]) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement of each case over its target."""
    engine = engine_for(url)
    out: list[str] = []
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for case in selected:
            if not case.times or percentile(case.times, .95) <= case.target_ms:
                continue
            out.append(f"## {case.name}: p95 {percentile(case.times, .95):.0f} ms\n")
            for n, st in enumerate(case.statements, 1):
                sql = st["sql"]
                if not sql.lstrip().upper().startswith("SELECT"):
                    continue
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, st["params"] or None)
                plan = "\n".join(r[0] for r in cur.fetchall())
                out.append(f"### statement {n}\n{sql}\n\n{plan}\n")
            raw.rollback()
    finally:
        raw.close()
    return "\n".join(out)


def figures(selected: list[Case], extra: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per case: p95 beside the floor's p95; the p50s, statement and run counts in
    the name (and in the JSON as `p50`, `floor_p50`)."""
    from bench.run import figure

    out = []
    for case in selected:
        if not case.times:
            continue
        p50, p95 = percentile(case.times, .5), percentile(case.times, .95)
        f50 = percentile(case.floor_times, .5) if case.floor_times else None
        f95 = percentile(case.floor_times, .95) if case.floor_times else None
        shown_f50 = "-" if f50 is None else f"{f50:,.1f}"
        name = (f"{case.name} (p50 {p50:,.1f} / floor {shown_f50} ms; "
                f"{len(case.statements)} stmts, {len(case.times)} runs)")
        row = figure(name, p95, "ms", f95, f"p95 < {case.target_ms:.0f} ms",
                     p95 < case.target_ms)
        row.update({"p50": round(p50, 3), "floor_p50": None if f50 is None else round(f50, 3)})
        out.append(row)
    if "cohort peak RSS MB" in extra:
        out.append(figure("cohort page peak RSS (first request; floor: the process before)",
                          extra["cohort peak RSS MB"], "MB", extra.get("RSS before cohort MB"),
                          "bounded (reported)", None))
    return out


def page_scale_figures(scale_key: str, server_url: str, *, sample: int, copies: int,
                       rebuild: bool = False, keep: bool = False, with_explain: bool = False,
                       only: str | None = None) -> list[dict[str, Any]]:
    """Build or reuse the template, copy it, measure every case and its floor."""
    template = TEMPLATES[scale_key]
    stamp = ensure_template(server_url, template, sample, copies, rebuild=rebuild)
    name = f"calcitrack_bench_pages_{uuid.uuid4().hex[:8]}"
    t0 = time.perf_counter()
    url = copy_of(server_url, template, name)
    copy_s = time.perf_counter() - t0
    log(f"pages: copied {template} to {name} in {copy_s:.0f} s")
    try:
        app, client = signed_in_client(url)
        with engine_for(url).connect() as conn:
            selected = cases(conn, _targets(conn))
        if only:
            selected = [c for c in selected if re.search(only, c.name)]
        extra = measure_pages(url, selected, app, client)
        with engine_for(url).connect() as conn:
            prepare_s = floors.prepare(conn, TODAY)
        log(f"floors: indexes and summaries created in {prepare_s:.0f} s")
        with engine_for(url).connect() as conn:
            for case in selected:
                if case.late_floor is not None:
                    case.floor = case.late_floor(conn)
        measure_floors(url, selected)
        for case in selected:
            if case.path == "/cohort":
                _cohort_floor(url, case, extra)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "pages-statements.json").write_text(json.dumps(
            {c.name: c.statements for c in selected}, indent=1) + "\n")
        if with_explain:
            (RESULTS / "pages-explain.txt").write_text(explain(url, selected))
        extra.update({"template": template, "template build s": stamp.build_seconds,
                      "copy s": round(copy_s, 1), "floor prepare s": round(prepare_s, 1),
                      "counts": stamp.counts})
        (RESULTS / "pages-extra.json").write_text(json.dumps(extra, indent=1, default=str))
        return figures(selected, extra)
    finally:
        engine_for(url).dispose()
        if keep:
            log(f"pages: kept {name}")
        else:
            drop(server_url, name)


def _cohort_floor(url: str, case: Case, extra: dict[str, Any]) -> None:
    """The cohort's floor: grouped (days, resolved) from a per-lesion table, weighted fit; and
    the check that the weighted fit on grouped durations gives the ungrouped curve."""
    items, built = floors.prepare_cohort(url)
    extra["cohort subjects"] = len(items)
    extra["cohort table build s"] = round(built, 1)
    case.floor = floors.cohort_floor
    measure_floors(url, [case])
    extra.update(compare_fits(items))


def compare_fits(items: list[Any]) -> dict[str, Any]:
    """Ungrouped lifelines fit vs the weighted fit on grouped durations: the largest
    differences of the survival curve, its 95 % CI and the median, and the time of each."""
    from collections import Counter

    from lifelines import KaplanMeierFitter

    t0 = time.perf_counter()
    full = KaplanMeierFitter().fit([i.days for i in items], [i.resolved for i in items],
                                   label="all")
    ungrouped_s = time.perf_counter() - t0
    grouped = Counter((i.days, i.resolved) for i in items)
    t0 = time.perf_counter()
    weighted = floors.weighted_fit([(d, e, n) for (d, e), n in grouped.items()])
    weighted_s = time.perf_counter() - t0
    sf = (full.survival_function_["all"] - weighted.survival_function_["all"]).abs().max()
    ci = (full.confidence_interval_survival_function_.to_numpy()
          - weighted.confidence_interval_survival_function_.to_numpy())
    return {"fit ungrouped s": round(ungrouped_s, 3), "fit weighted s": round(weighted_s, 4),
            "grouped rows": len(grouped), "max |survival difference|": float(sf),
            "max |CI difference|": float(abs(ci).max()),
            "median ungrouped": float(full.median_survival_time_),
            "median weighted": float(weighted.median_survival_time_),
            "event table equal": bool(full.event_table.equals(weighted.event_table))}

