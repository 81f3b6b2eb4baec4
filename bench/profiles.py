"""Where a page's Python time goes: `python -m bench.profiles [--scale quick|full] PATH...`.

On a copy of the steady-state template (`bench/steady.py`; built if missing), signed in and
warm, for each PATH: wall p50/p95 and the garbage collector's passes per request (gen 0/1/2
count and time), with the collector as it is, after `gc.freeze()` and disabled; with
`--pyinstrument`, a pyinstrument profile of the requests (not a project dependency: `pip
install pyinstrument`) to `bench/results/profile-<path>.txt`. For sampling without
instrumentation, run the same under `py-spy record --format raw -- python -m bench.profiles ...`
(py-spy leaves out idle samples, so waits on the database do not count).
"""

from __future__ import annotations

import argparse
import gc
import re
import time
from collections.abc import Callable
from typing import Any

from bench.pages import RESULTS, TEMPLATES, percentile, signed_in_client
from bench.run import PG, SCALES
from bench.steady import log, template_copy


class _Collections:
    """Counts and times the collector's passes by generation (gc.callbacks)."""

    def __init__(self) -> None:
        self.passes = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            entry = self.passes[info["generation"]]
            entry[0] += 1
            entry[1] += time.perf_counter() - self._start

    def reset(self) -> None:
        for entry in self.passes.values():
            entry[0], entry[1] = 0, 0.0


def _measure(get: Callable[[], None], seen: _Collections, n: int) -> str:
    get()
    get()
    seen.reset()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        get()
        times.append((time.perf_counter() - t0) * 1000)
    per = ", ".join(f"gen{g} {c / n:.2f} x {t / n * 1000:.1f} ms"
                    for g, (c, t) in seen.passes.items())
    return (f"p50 {percentile(times, .5):.1f} ms, p95 {percentile(times, .95):.1f} ms; "
            f"collector per request: {per}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--scale", choices=sorted(SCALES), default="quick")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--pyinstrument", action="store_true")
    args = parser.parse_args()
    scale = SCALES[args.scale]
    template = TEMPLATES[args.scale]
    with template_copy(PG, template, scale.page_sample, scale.page_copies,
                       f"{template}_profile") as url:
        _app, client = signed_in_client(url)

        def getter(path: str) -> Callable[[], None]:
            def get() -> None:
                assert client.get(path).status_code == 200, path
            return get

        seen = _Collections()
        gc.callbacks.append(seen)
        log(f"objects tracked by the collector after start-up: {len(gc.get_objects()):,}")
        for mode in ("collector on", "gc.freeze()", "collector off"):
            if mode == "gc.freeze()":
                gc.freeze()
            elif mode == "collector off":
                gc.unfreeze()
                gc.disable()
            for path in args.paths:
                print(f"{mode:14} {path}: {_measure(getter(path), seen, args.requests)}")
        gc.enable()
        if args.pyinstrument:
            from pyinstrument import Profiler

            RESULTS.mkdir(parents=True, exist_ok=True)
            for path in args.paths:
                profiler = Profiler(interval=0.0005)
                get = getter(path)
                with profiler:
                    for _ in range(args.requests):
                        get()
                out = RESULTS / f"profile-{re.sub(r'[^A-Za-z0-9]+', '-', path).strip('-')}.txt"
                out.write_text(profiler.output_text(unicode=False, color=False))
                print(f"pyinstrument: {out}")


if __name__ == "__main__":
    main()
