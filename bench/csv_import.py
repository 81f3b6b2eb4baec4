"""Benchmark: `tracker import-csv` speed and peak Python memory against file size.

Run by `make bench`; prints figures, asserts nothing. The same generated visits are written at
two sizes; a streaming import shows a peak memory that grows far slower than the file.
BENCH_CSV_ROWS sets the larger size (default 20000 rows).
"""

from __future__ import annotations

import csv
import os
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

from tracker.db import session_scope
from tracker.interop import csv_rows
from tracker.migrate import upgrade
from tracker.services.interop import import_chunks

TODAY = date.today()
VISITS_PER_LESION = 4


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["patient", "lesion", "compartment", "region", "laterality", "date",
                      "modality", "size1_mm", "density", "margin"])
        for i in range(rows):
            lesion, visit = divmod(i, VISITS_PER_LESION)
            day = date(2020, 1, 1) + timedelta(days=lesion % 700 + 90 * visit)
            out.writerow([f"P-{lesion // 2:06d}", f"L{lesion % 2}", "tendon", "shoulder",
                          "right", day.isoformat(), "XR", 14 - visit, "dense", "well_defined"])




def measure(rows: int, work: Path) -> None:
    path = work / f"visits-{rows}.csv"
    write_csv(path, rows)
    url = f"sqlite:///{work}/bench-{rows}.sqlite"
    upgrade(url)

    tracemalloc.start()
    t0 = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as fh:
        bad = sum(1 for r in csv_rows.read_rows(fh, today=TODAY) if r.problems)
    check_s = time.perf_counter() - t0
    check_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()

    t0 = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as fh, session_scope(url) as s:
        summary = import_chunks(s, csv_rows.documents(csv_rows.read_rows(fh, today=TODAY)),
                                actor="bench", today=TODAY)
    import_s = time.perf_counter() - t0
    import_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    mib = 1024 * 1024
    print(f"csv {rows} rows ({path.stat().st_size / mib:.1f} MiB, {bad} bad): "
          f"check {rows / check_s:,.0f} rows/s, peak {check_peak / mib:.1f} MiB; "
          f"import {rows / import_s:,.0f} rows/s, peak {import_peak / mib:.1f} MiB, "
          f"{summary.observations_created} observations")


def main() -> None:
    large = int(os.environ.get("BENCH_CSV_ROWS", "20000"))
    with tempfile.TemporaryDirectory() as tmp:
        for rows in (large // 4, large):
            measure(rows, Path(tmp))


if __name__ == "__main__":
    main()
