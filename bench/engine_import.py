"""Benchmark: engine throughput and timeline import/export on the embedded SQLite database.

Run by `make bench`; prints figures, asserts nothing. The demo cohort's scenarios are repeated
to reach the sizes a clinic would hold (a few thousand lesions).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from tracker.db import session_factory
from tracker.demo import generate
from tracker.engine import infer
from tracker.export import export_timeline
from tracker.facts import facts_of_input
from tracker.migrate import upgrade
from tracker.services.imports import import_timeline
from tracker.timeline.reader import validate_timeline

TODAY = date.today()


def main() -> None:
    doc = generate(TODAY, seed=11, copies=100)
    timeline = validate_timeline(doc, today=TODAY)
    lesions = [le for p in timeline.patients for le in p.lesions]
    observations = sum(len(le.observations) for le in lesions)

    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        for le in lesions:
            infer(facts_of_input(le), TODAY)
        runs.append(time.perf_counter() - t0)
    best = min(runs)
    median = statistics.median(runs)
    print(f"engine: {len(lesions)} lesions ({observations} observations) in {best:.3f} s"
          f" -> {len(lesions) / best:,.0f} lesions/s (best of 3, median {median:.3f} s)")

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        upgrade(url)
        with session_factory(url)() as s:
            t0 = time.perf_counter()
            import_timeline(s, timeline, actor="bench")
            t_import = time.perf_counter() - t0
            t0 = time.perf_counter()
            import_timeline(s, timeline, actor="bench")
            t_reimport = time.perf_counter() - t0
            t0 = time.perf_counter()
            export_timeline(s)
            t_export = time.perf_counter() - t0
    print(f"import (SQLite): {len(timeline.patients)} patients, {observations} observations"
          f" in {t_import:.2f} s; re-import (no change) {t_reimport:.2f} s;"
          f" export {t_export:.2f} s")


if __name__ == "__main__":
    main()
