"""Benchmark figures of the prognosis models: recovery of known effects and the cost of a fit.

- **Recovery** (`make test` runs two seeds; here quick 10, full 100): seeded cohorts of 600
  simulated deposits with known effects (`testkit/prognosis_cohort.py`), each written as
  lesion-timeline/1, validated, staged by the engine, turned into records and fitted. Per true
  effect, the share of seeds whose 95 % CI holds the true time ratio (target >= 0.90); the same
  over the effects that are truly 1 (pain, age, region, modality); the share of seeds whose
  cross-validated C-index is within 0.03 of the true model's C-index on the same data.
  Seeds run in two processes (the figures are rates, not timings).
- **Fit cost**: one family's fit (the model, 5-fold cross-validation, calibration) of 20,000
  lesions (quick 2,000) in a child interpreter, with its peak RSS above what the records took
  (VmHWM reset before the fit); floor: a single lifelines fit of the same design, which is what
  lifelines itself costs. The records are built from the simulated films directly (the engine
  gives the same records, tests/prognosis/test_simulation.py), so the figure is the fit's own.

`python -m bench.prognosis_figures quick|full` prints them; asserts nothing.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

from testkit.prognosis_cohort import TRUTH, covered, simulate
from tracker.prognosis.engine_records import records_of_timeline
from tracker.prognosis.fit import c_index, fit_family
from tracker.timeline.reader import validate_timeline

SEEDS = {"quick": 10, "full": 100}
FIT_LESIONS = {"quick": 2_000, "full": 20_000}
LESIONS_PER_SEED = 600
TRUE_EFFECTS = ("gartner:II", "gartner:III", "gartner:not graded", "size")
FITTED = {"fitted_at": datetime(2026, 1, 1, tzinfo=UTC), "engine_version": "bench",
          "rules_revision": 0}
Figure = Callable[..., dict[str, Any]]


def one_seed(seed: int) -> dict[str, Any]:
    """One simulated cohort through validation, engine and fit: what it recovered."""
    sim = simulate(LESIONS_PER_SEED, seed)
    timeline = validate_timeline(sim.document(), today=date.today())
    records, _ = records_of_timeline(timeline, sim.as_of)
    fit = fit_family("hadd", records, **FITTED)
    true_c = c_index(records, [le.true_log_scale for le in sim.lesions])
    return {"covered": covered(fit), "usable": fit.usable, "events": fit.events,
            "gap": None if fit.c_index is None else fit.c_index - true_c}


def recovery(seeds: int, figure: Figure) -> list[dict[str, Any]]:
    with ProcessPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(one_seed, range(1, seeds + 1)))
    rows = []
    for term in TRUE_EFFECTS:
        hits = [r["covered"][term] for r in runs if term in r["covered"]]
        rate = sum(hits) / len(hits)
        rows.append(figure(f"prognosis recovery: {term} (true TR {TRUTH.ratio(term)}) within "
                           f"its 95 % CI, {len(hits)} seeds x {LESIONS_PER_SEED} lesions",
                           rate, "share", 0.90, ">= 0.90 of seeds", rate >= 0.90))
    nulls = [hit for r in runs for term, hit in r["covered"].items() if term not in TRUE_EFFECTS]
    rate = sum(nulls) / len(nulls)
    rows.append(figure(f"prognosis recovery: effects truly 1 (pain, age, region, modality) "
                       f"within their 95 % CI ({len(nulls)} estimates)", rate, "share", 0.90,
                       ">= 0.90", rate >= 0.90))
    gaps = [abs(r["gap"]) for r in runs if r["gap"] is not None]
    within = sum(g <= 0.03 for g in gaps) / len(gaps)
    rows.append(figure(f"prognosis C-index within 0.03 of the true model's (mean |gap| "
                       f"{statistics.mean(gaps):.3f}, worst {max(gaps):.3f})", within,
                       "share", 0.90, ">= 0.90 of seeds", within >= 0.90))
    usable = sum(r["usable"] for r in runs) / len(runs)
    rows.append(figure(f"prognosis models used (C-index >= 0.60; mean "
                       f"{statistics.mean(r['events'] for r in runs):.0f} resolutions)",
                       usable, "share", None, "reported", None))
    return rows


CHILD = """
import json, sys, time
from datetime import UTC, datetime
from pathlib import Path
import numpy as np, pandas as pd
from lifelines import WeibullAFTFitter
from testkit.prognosis_cohort import simulate
from tracker.prognosis.design import code_lesion
from tracker.prognosis.fit import fit_family

def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")

n = int(sys.argv[1])
records = simulate(n, 99).direct_records()
before = status("VmRSS")
Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM
t0 = time.perf_counter()
fit = fit_family("hadd", records, fitted_at=datetime.now(UTC), engine_version="b",
                 rules_revision=0)
seconds = time.perf_counter() - t0
peak = status("VmHWM") - before
followed = [r for r in records if r.outcome.event or r.outcome.days > 0]
names = [f"x{i}" for i in range(len(fit.params.terms) - 1)]
frame = pd.DataFrame([code_lesion(fit.params.codings, r.baseline)[0] for r in followed],
                     columns=names)
frame["lower"] = [r.outcome.last_seen_days for r in followed]
frame["upper"] = [r.outcome.days if r.outcome.event else np.inf for r in followed]
t0 = time.perf_counter()
WeibullAFTFitter(penalizer=1e-4).fit_interval_censoring(frame, "lower", "upper")
floor = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "floor": floor, "peak_mb": peak, "n": fit.n,
                  "events": fit.events, "terms": len(fit.params.terms) - 1,
                  "c_index": fit.c_index}))
"""


def fit_cost(n: int, figure: Figure) -> list[dict[str, Any]]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(n)], check=True,
                         capture_output=True, text=True)
    run = json.loads(out.stdout.strip().splitlines()[-1])
    return [
        figure(f"prognosis fit of {run['n']:,} lesions ({run['events']:,} resolutions, "
               f"{run['terms']} terms): model + 5-fold CV + calibration", run["seconds"], "s",
               run["floor"], "<= 8x one lifelines fit (the model, five folds, the rest)",
               run["seconds"] <= 8 * run["floor"]),
        figure(f"prognosis fit peak RSS above the records ({run['n']:,} lesions)",
               run["peak_mb"], "MB", None, "reported", None),
    ]


def figures(scale: str, figure: Figure) -> list[dict[str, Any]]:
    return recovery(SEEDS[scale], figure) + fit_cost(FIT_LESIONS[scale], figure)


def main() -> None:
    scale = sys.argv[1] if len(sys.argv) > 1 else "quick"

    def show(name: str, value: float, unit: str, floor: float | None, target: str,
             met: bool | None) -> dict[str, Any]:
        shown = f"{value:.3f}" if not math.isnan(value) else "-"
        print(f"{name}: {shown} {unit} (floor {floor}; {target}; met {met})")
        return {}

    figures(scale, show)


if __name__ == "__main__":
    main()
