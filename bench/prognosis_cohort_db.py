"""A database holding a large simulated clinic, to look at the prognosis display at scale.

`python -m bench.prognosis_cohort_db [--lesions 20000] [--seed 1]` (or `make bench-prognosis-db`)
writes the simulated shoulder-clinic cohort of `testkit/prognosis_cohort.py` as
lesion-timeline/1, validates and imports it, stages every lesion with the engine (as of today,
as the nightly scan would), refits the prognosis models and stores them, into the embedded
database of CALCITRACK_INSTANCE (default `bench/results/prognosis-instance`, or DATABASE_URL).
Then `make run CALCITRACK_INSTANCE=$PWD/bench/results/prognosis-instance` serves it (the demo
cohort and the `demo` user are added as usual). It prints how long each step took; it asserts
nothing.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_INSTANCE = REPO / "bench" / "results" / "prognosis-instance"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lesions", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("CALCITRACK_INSTANCE", str(DEFAULT_INSTANCE))
    Path(os.environ["CALCITRACK_INSTANCE"]).mkdir(parents=True, exist_ok=True)

    from testkit.prognosis_cohort import simulate
    from tracker.config import from_env
    from tracker.db import safe_url, session_scope
    from tracker.migrate import upgrade
    from tracker.queries.to_assess import all_lesions
    from tracker.services.assessment.assess import assess_lesions
    from tracker.services.imports import import_timeline
    from tracker.services.prognosis import refit
    from tracker.timeline.reader import validate_timeline

    url = from_env().database_url
    upgrade(url)
    started = time.perf_counter()

    def step(what: str) -> None:
        nonlocal started
        print(f"{what}: {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()

    sim = simulate(args.lesions, args.seed)
    timeline = validate_timeline(sim.document(), today=date.today())
    step(f"{args.lesions:,} simulated lesions validated")
    with session_scope(url) as session:
        summary = import_timeline(session, timeline, actor="bench")
        session.commit()
        step(f"imported ({summary.lesions_created:,} new lesions)")
        ids = all_lesions(session)
        for start in range(0, len(ids), 2000):
            assess_lesions(session, ids[start:start + 2000], date.today())
            session.commit()
        step(f"{len(ids):,} lesions assessed by the engine")
        for r in refit(session):
            print(f"  {r.family}: version {r.version} ({'stored' if r.stored else 'unchanged'})"
                  f", {r.n:,} lesions, {r.events:,} resolutions, "
                  f"{'used' if r.usable else 'not used'}")
        step("prognosis refit")
    print(f"database: {safe_url(url)}")


if __name__ == "__main__":
    main()
