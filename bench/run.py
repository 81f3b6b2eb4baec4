"""Every benchmark figure next to its floor, measured in one run: `make bench` / `make bench-quick`.

`python -m bench.run --scale quick|full` needs PostgreSQL (127.0.0.1:5432, or BENCH_POSTGRES_URL)
and Redis (127.0.0.1:6379); it creates and drops its own databases and uses its own queue
names on Redis database 13. It prints a table and writes `bench/results/latest.json`:
`{"run_at", "scale", "figures": [{"name", "value", "unit", "floor", "ratio", "target", "met"}]}`.
Asserts nothing: timings belong here, not in `make test`. What each figure means is in
`bench/README.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from bench import import_figures, prognosis_figures
from bench.pages import page_scale_figures, signed_in_client
from bench.steady import AS_OF, followed_patient, replicate
from testkit.cohort import generate, insert_rows, to_timeline
from testkit.statements import statements as statements_run
from tracker.db import engine_for, session_factory, session_scope
from tracker.migrate import upgrade
from tracker.models import Lesion, Observation
from tracker.services.assessment.scan import reassess_all, scan_alerts
from tracker.services.records import record_observation
from tracker.timeline.models import ObservationIn

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "latest.json"
PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")  # the tests use 2-15
SCAN_DAYS = 7


@dataclass(frozen=True)
class Scale:
    name: str
    scan_lesions: int  # lesions in the database the daily scan runs over
    scan_sample: int  # lesions assessed for real, then replicated in SQL to scan_lesions
    records: int  # record -> assessment latency samples
    embedded_lesions: int  # imported into the embedded default
    import_patients: int  # bench/import_figures.py: 8 observations per patient
    page_sample: int  # bench/steady.py: lesions assessed for real, replicated for the pages
    page_copies: int


SCALES = {
    "quick": Scale("quick (1/100)", 10_000, 1_000, 100, 1_000, 1_250, 1_000, 10),
    "full": Scale("full", 1_000_000, 10_000, 500, 1_000, 12_500, 10_000, 100),
}


def figure(name: str, value: float | None, unit: str, floor: float | None, target: str,
           met: bool | None) -> dict[str, Any]:
    ratio = value / floor if value is not None and floor else None
    return {"name": name, "value": None if value is None else round(value, 3), "unit": unit,
            "floor": None if floor is None else round(floor, 3),
            "ratio": None if ratio is None else round(ratio, 3), "target": target, "met": met}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def log(message: str) -> None:
    print(f"  [{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def scratch_database() -> Any:
    """A migrated PostgreSQL database of our own, dropped afterwards."""
    return import_figures.scratch_database(PG)


# --------------------------------------------------------------------------- daily scan

def best_of(n: int, run: Callable[[], Any]) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return min(times)


def scan_figures(scale: Scale) -> list[dict[str, Any]]:
    with scratch_database() as url:
        log(f"scan: {scale.scan_sample} lesions assessed, replicated to {scale.scan_lesions}")
        insert_rows(url, generate(scale.scan_sample, seed=11, start=date(2021, 1, 4),
                                  span_days=1200, last_day=AS_OF))
        with session_factory(url)() as s:
            reassess_all(s, AS_OF)
        replicate(url, scale.scan_lesions // scale.scan_sample)
        engine = engine_for(url)
        with engine.connect() as conn:
            lesions = conn.scalar(select(func.count()).select_from(Lesion))
            observations = conn.scalar(select(func.count()).select_from(Observation))

        def floor_query() -> None:
            with engine.connect() as conn:
                conn.execute(text(
                    "SELECT lesion_id, max(date) FROM observations GROUP BY lesion_id"
                )).fetchall()

        floor = best_of(3, floor_query)
        times, due = [], []
        for n in range(1, SCAN_DAYS + 1):  # a week of daily scans from the steady state
            day = AS_OF + timedelta(days=n)
            t0 = time.perf_counter()
            with session_factory(url)() as s:
                report = scan_alerts(s, day)
            times.append(time.perf_counter() - t0)
            due.append(report.lesions)
        log(f"scan: {lesions} lesions, {observations} obs; due per day {due}; "
            f"seconds {[round(t, 3) for t in times]}; floor {floor:.3f} s")
    mean, worst = statistics.mean(times), max(times)
    what = f"{lesions} lesions, {observations} obs"
    return [
        figure(f"daily scan, mean of {SCAN_DAYS} days ({what}; {statistics.mean(due):.0f} "
               "due/day)", mean, "s", floor,
               "<= 3x a bare GROUP BY (last observation per lesion)", mean <= 3 * floor),
        figure(f"daily scan, worst of {SCAN_DAYS} days ({max(due)} due)", worst, "s", floor,
               "<= 3x the same floor", worst <= 3 * floor),
    ]


# --------------------------------------------------------------------------- workers


@contextmanager
def worker(env: dict[str, str], queue: str, *extra: str) -> Iterator[Path]:
    """A `celery worker` subprocess on `queue`; yields its log file; stopped afterwards."""
    with tempfile.NamedTemporaryFile("w+b", suffix=".log", delete=False) as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers", "worker", "-Q", queue,
             "--loglevel=INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat", *extra],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    path = Path(out.name)
    try:
        deadline = time.monotonic() + 90
        while " ready." not in path.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the worker did not start:\n" + path.read_text())
            time.sleep(0.2)
        yield path
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        path.unlink(missing_ok=True)


def _noop_round_trips(n: int) -> list[float]:
    """Send `calcitrack.noop` and wait for its result (through Redis), n times."""
    from workers.app import make_celery

    app = make_celery()
    app.send_task("calcitrack.noop").get(timeout=30)  # warm
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        app.send_task("calcitrack.noop").get(timeout=30)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def latency_figures(scale: Scale) -> list[dict[str, Any]]:
    from workers import dispatch

    queue = f"calcitrack-bench-{uuid.uuid4().hex[:8]}"
    with scratch_database() as url:
        insert_rows(url, generate(scale.records, seed=5, start=date(2023, 1, 2),
                                  span_days=400, last_day=AS_OF))
        with session_factory(url)() as s:
            reassess_all(s, AS_OF)  # realistic lesions, already assessed once
            ids = list(s.scalars(select(Lesion.id).order_by(Lesion.id)))
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS, "CALCITRACK_QUEUE": queue,
               "PYTHONPATH": str(REPO)}
        saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "REDIS_URL", "CALCITRACK_QUEUE")}
        os.environ.update({k: env[k] for k in saved})
        try:
            with worker(env, queue, "--pool=solo"):
                noop = _noop_round_trips(scale.records)
                log(f"latency: no-op p95 {percentile(noop, 0.95):.1f} ms; recording")
                committed: dict[int, datetime] = {}
                sessions = session_factory(url)
                visit = {"date": date.today().isoformat(), "modality": "XR", "size_mm": [9.5],
                         "density": "moderate", "margin": "ill_defined",
                         "texture": "heterogeneous", "pattern": "cloud"}
                for lesion_id in ids:
                    with sessions() as s:
                        record_observation(s, lesion_id, ObservationIn.model_validate(visit),
                                           actor="bench")
                    committed[lesion_id] = datetime.now().astimezone()
                    dispatch.request_assessment([lesion_id])
                    time.sleep(0.05)
                done = _wait_assessed(url, len(ids), 180)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    lat = [(done[i] - committed[i]).total_seconds() * 1000 for i in ids if i in done]
    p50, p95, noop95 = percentile(lat, 0.5), percentile(lat, 0.95), percentile(noop, 0.95)
    n = f"{len(lat)}/{len(ids)} records"
    return [
        figure(f"record -> stored assessment p50 ({n}, Redis + 1 worker)", p50, "ms",
               percentile(noop, 0.5), "(p50 of a no-op Celery round trip)",
               len(lat) == len(ids)),
        figure(f"record -> stored assessment p95 ({n}, Redis + 1 worker)", p95, "ms", noop95,
               "p95 < 1 s and <= 5x the no-op round trip p95",
               len(lat) == len(ids) and p95 < 1000 and p95 <= 5 * noop95),
    ]


def _wait_assessed(url: str, n: int, timeout: float) -> dict[int, datetime]:
    deadline = time.monotonic() + timeout
    done: dict[int, datetime] = {}
    while time.monotonic() < deadline:
        with session_scope(url) as s:
            rows = s.execute(select(Lesion.id, Lesion.assessed_at).where(
                Lesion.assessed_version == Lesion.data_version,
                Lesion.assessment_due_at.is_(None))).all()
        done = {r.id: r.assessed_at for r in rows if r.assessed_at is not None}
        if len(done) >= n:
            break
        time.sleep(0.2)
    return done


def embedded_figures(scale: Scale) -> list[dict[str, Any]]:
    """`tracker import` into the embedded default (SQLite database and broker) with the worker
    of `make run`, until every lesion is assessed."""
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp) / "instance"
        queue = f"calcitrack-bench-embedded-{uuid.uuid4().hex[:8]}"
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "REDIS_URL", "BROKER_URL", "RESULT_BACKEND")}
        env.update({"CALCITRACK_INSTANCE": str(instance), "CALCITRACK_QUEUE": queue,
                    "PYTHONPATH": str(REPO)})
        db_url = f"sqlite:///{instance / 'calcitrack.sqlite'}"
        upgrade(db_url)
        doc = to_timeline(generate(scale.embedded_lesions, seed=3, start=date(2022, 1, 3),
                                   span_days=600, last_day=AS_OF))
        path = Path(tmp) / "cohort.timeline.json"
        path.write_text(json.dumps(doc))
        with worker(env, queue, "--pool=threads", "--concurrency=2"):
            log(f"embedded: importing {scale.embedded_lesions} lesions")
            t0 = time.perf_counter()
            subprocess.run([str(Path(sys.executable).parent / "tracker"), "import", str(path)],
                           cwd=REPO, env=env, check=True, capture_output=True)
            imported = time.perf_counter() - t0
            done = _wait_assessed(db_url, scale.embedded_lesions, 300)
            took = time.perf_counter() - t0
        engine_for(db_url).dispose()
    log(f"embedded: import {imported:.1f} s, all assessed after {took:.1f} s")
    ok = len(done) == scale.embedded_lesions
    return [figure(f"embedded default: {scale.embedded_lesions} imported lesions -> all "
                   f"assessed ({len(done)} done; import alone {imported:.1f} s)",
                   took if ok else None, "s", None, "< 60 s", ok and took < 60)]


# --------------------------------------------------------------------------- pages

def page_figures() -> list[dict[str, Any]]:
    with scratch_database() as url:
        small = followed_patient(url, "PAGE-5", 5, 10)
        big = followed_patient(url, "PAGE-50", 50, 10)
        _app, client = signed_in_client(url)

        def timed(path: str) -> float:
            t0 = time.perf_counter()
            r = client.get(path)
            assert r.status_code == 200, (path, r.status_code)
            return (time.perf_counter() - t0) * 1000

        lesions = small + big[:15]
        uncached = [timed(f"/lesions/{i}/chart.png") for i in lesions]
        cached = [timed(f"/lesions/{i}/chart.png") for i in lesions for _ in range(3)]
        pages = {}
        for name in ("PAGE-5", "PAGE-50"):
            timed(f"/patients/{name}")  # warm
            pages[name] = [timed(f"/patients/{name}") for _ in range(30)]
        statements = {}
        for name in ("PAGE-5", "PAGE-50"):
            with statements_run(engine_for(url)) as seen:
                timed(f"/patients/{name}")
            statements[name] = len(seen)
        engine_for(url).dispose()
    un, ca = statistics.median(uncached), statistics.median(cached)
    p95_5, p95_50 = percentile(pages["PAGE-5"], 0.95), percentile(pages["PAGE-50"], 0.95)
    s5, s50 = statements["PAGE-5"], statements["PAGE-50"]
    return [
        figure("lesion chart PNG, cached (median) vs uncached render", ca, "ms", un,
               ">= 50x faster cached (ratio <= 0.02)", un >= 50 * ca),
        figure("timeline page p95, 50 lesions x 10 visits (floor: same page, 5 lesions)",
               p95_50, "ms", p95_5, "reported; SQL statements equal (next row)", None),
        figure(f"timeline page SQL statements at 50 lesions (floor: at 5 lesions = {s5})",
               s50, "statements", s5, "equal", s50 == s5),
    ]


# --------------------------------------------------------------------------- import


def import_rows(scale: Scale) -> list[dict[str, Any]]:
    log(f"import: {scale.import_patients} patients")
    return list(import_figures.measure(PG, scale.import_patients))


# --------------------------------------------------------------------------- main


def table(figures: list[dict[str, Any]]) -> str:
    def show(x: Any) -> str:
        return "-" if x is None else f"{x:,.3f}".rstrip("0").rstrip(".") if isinstance(
            x, float) else f"{x:,}" if isinstance(x, int) else str(x)

    rows = [("figure", "value", "unit", "floor", "ratio", "met", "target")]
    for f in figures:
        met = {True: "yes", False: "NO", None: "-"}[f["met"]]
        rows.append((f["name"], show(f["value"]), f["unit"], show(f["floor"]),
                     show(f["ratio"]), met, f["target"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
             for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="quick")
    parser.add_argument("--only", nargs="*", default=None,
                        choices=["import", "scan", "latency", "embedded", "pages", "prognosis"])
    parser.add_argument("--rebuild", action="store_true",
                        help="pages: build the steady-state template again even if present")
    parser.add_argument("--keep", action="store_true",
                        help="pages: keep the measured copy of the template (its name is logged)")
    parser.add_argument("--explain", action="store_true",
                        help="pages: EXPLAIN (ANALYZE, BUFFERS) each statement of a case over "
                             "its target into bench/results/pages-explain.txt")
    parser.add_argument("--case", default=None,
                        help="pages: only the cases whose name matches this regular expression")
    args = parser.parse_args()
    scale = SCALES[args.scale]
    started = time.perf_counter()
    steps: dict[str, Callable[[], list[dict[str, Any]]]] = {
        "import": lambda: import_rows(scale),
        "scan": lambda: scan_figures(scale),
        "latency": lambda: latency_figures(scale),
        "embedded": lambda: embedded_figures(scale),
        "pages": lambda: page_figures() + page_scale_figures(
            args.scale, PG, sample=scale.page_sample, copies=scale.page_copies,
            rebuild=args.rebuild, keep=args.keep, with_explain=args.explain, only=args.case),
        "prognosis": lambda: prognosis_figures.figures(args.scale, figure),
    }
    figures: list[dict[str, Any]] = []
    for name, step in steps.items():
        if args.only is None or name in args.only:
            figures += step()
    result = {"run_at": datetime.now().astimezone().isoformat(timespec="seconds"),
              "scale": scale.name, "seconds": round(time.perf_counter() - started, 1),
              "figures": figures}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(table(figures))
    print(f"\n{scale.name}: {result['seconds']} s; written to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
