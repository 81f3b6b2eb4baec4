"""Benchmark figures of `tracker import`, each next to its floor measured in the same run.

`measure(url, n_patients)` creates its own throwaway databases on the server of `url` (a
PostgreSQL URL; the database named in it is only used to connect) and drops them afterwards.
The import runs in a child interpreter, as `tracker import` would, so its peak RSS is its own.
Figures (asserts nothing; `python -m bench.import_figures [URL] [N_PATIENTS]` prints them):

- import observations/s: a first import of a generated file (2 lesions x 4 observations per
  patient); floor: a Core `executemany` of the same rows into the same tables (patients and
  lesions with RETURNING for their ids, then observations and features); also a raw psycopg
  `executemany` into one table as wide as `observations`.
- re-import of the unchanged file, observations/s, against the same Core floor.
- import peak RSS (MB) against an idle interpreter that imported the same modules; measured at
  n/4 and n patients, to show it is flat in file size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from tracker.db import engine_for, normalize_url
from tracker.migrate import upgrade
from tracker.models import Lesion, Observation, ObservationFeature, Patient

TODAY = date(2026, 11, 25)
LESIONS_PER_PATIENT = 2
VISITS_PER_LESION = 4

CHILD = """
import json, sys, time
from datetime import date
from pathlib import Path
from tracker.db import session_factory

def peak_rss_mb():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
{body}
"""
IMPORT_BODY = """
from tracker.services.imports import import_stream
from tracker.timeline.stream import PatientStream
url, path = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
with open(path, "rb") as f, session_factory(url)() as s:
    summary = import_stream(s, PatientStream(f, today=date.today()), actor="bench")
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "rss_mb": peak_rss_mb(), **summary.as_dict()}))
"""
IDLE_BODY = """
from tracker.services.imports import import_stream
from tracker.timeline.stream import PatientStream
print(json.dumps({"rss_mb": peak_rss_mb()}))
"""


def cohort(n_patients: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """Patients of a valid lesion-timeline/1 file: a shoulder HADD and a thigh HO each."""
    for i in range(n_patients):
        start = date(2022, 1, 1) + timedelta(days=(i * 7 + seed) % 900)
        lesions = []
        for li, (compartment, region, entity) in enumerate(
            (("tendon", "shoulder", "hadd"), ("soft_tissue", "thigh", "ho"))[:LESIONS_PER_PATIENT]
        ):
            visits = []
            for v in range(VISITS_PER_LESION):
                obs: dict[str, Any] = {
                    "date": (start + timedelta(days=91 * v + li)).isoformat(),
                    "modality": "XR",
                    "size_mm": [round(20.0 - 2.5 * v - (i % 5) * 0.5, 1), 8.0],
                    "density": "dense" if v < 2 else "faint",
                    "margin": "well_defined" if v < 2 else "ill_defined",
                    "pain": (i + v) % 11,
                }
                if v == 2:
                    obs["features"] = ["comet_tail"] if li == 0 else ["zonal_peripheral"]
                if v == 0:
                    obs["note"] = f"baseline visit {i}"
                visits.append(obs)
            lesions.append({"id": f"L{li + 1}",
                            "site": {"compartment": compartment, "region": region,
                                     "laterality": "left" if i % 2 else "right"},
                            "entity": entity, "observations": visits})
        yield {"id": f"BENCH-{seed}-{i:07d}", "birth_year": 1940 + i % 50,
               "sex": "F" if i % 3 else "M", "lesions": lesions}


def write_file(path: Path, n_patients: int) -> int:
    """Write the file patient by patient; returns the number of observations."""
    count = 0
    with path.open("w") as f:
        f.write('{"format": "lesion-timeline/1", "patients": [\n')
        for i, patient in enumerate(cohort(n_patients)):
            count += sum(len(le["observations"]) for le in patient["lesions"])
            f.write((",\n" if i else "") + json.dumps(patient))
        f.write("\n]}\n")
    return count


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A migrated database of our own on the server of `url`, dropped afterwards."""
    base = make_url(normalize_url(url))
    name = f"calcitrack_bench_import_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    target = base.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(target)
        yield target
    finally:
        engine_for(target).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def child(body: str, *args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", CHILD.format(body=body), *args],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def core_floor(url: str, patients: list[dict[str, Any]]) -> float:
    """Seconds for a Core executemany of the same rows into the same tables."""
    engine = create_engine(url)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        ids = conn.execute(insert(Patient).returning(Patient.id, sort_by_parameter_order=True),
                           [{"external_id": p["id"], "birth_year": p["birth_year"],
                             "sex": p["sex"]} for p in patients]).scalars().all()
        lesion_rows = [{"patient_id": pid, "external_id": le["id"], "entity": le["entity"],
                        "data_version": 1, **le["site"]}
                       for pid, p in zip(ids, patients, strict=True) for le in p["lesions"]]
        lesion_ids = conn.execute(
            insert(Lesion).returning(Lesion.id, sort_by_parameter_order=True), lesion_rows
        ).scalars().all()
        lesions = [le for p in patients for le in p["lesions"]]
        obs_rows = [_obs_row(lid, o) for lid, le in zip(lesion_ids, lesions, strict=True)
                    for o in le["observations"]]
        obs_ids = conn.execute(
            insert(Observation).returning(Observation.id, sort_by_parameter_order=True),
            obs_rows).scalars().all()
        all_obs = [o for le in lesions for o in le["observations"]]
        conn.execute(insert(ObservationFeature),
                     [{"observation_id": oid, "feature": f}
                      for oid, o in zip(obs_ids, all_obs, strict=True)
                      for f in o.get("features", [])])
    seconds = time.perf_counter() - t0
    engine.dispose()
    return seconds


def _obs_row(lesion_id: int, o: dict[str, Any]) -> dict[str, Any]:
    sizes = [*o["size_mm"], None, None]
    return {"lesion_id": lesion_id, "date": date.fromisoformat(o["date"]),
            "modality": o["modality"], "visible": True, "size1_mm": sizes[0],
            "size2_mm": sizes[1], "size3_mm": sizes[2], "density": o["density"],
            "margin": o["margin"], "pain": o["pain"], "note": o.get("note")}


def raw_floor(url: str, patients: list[dict[str, Any]]) -> float:
    """Seconds for a raw psycopg executemany into one table as wide as observations."""
    import psycopg

    rows = [(i, *list(_obs_row(i, o).values())[1:])
            for i, o in enumerate(o for p in patients for le in p["lesions"]
                                  for o in le["observations"])]
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TEMP TABLE wide (lesion_id int, date date, modality varchar(2),"
                     " visible bool, size1_mm float8, size2_mm float8, size3_mm float8,"
                     " density varchar(10), margin varchar(14), pain smallint, note text)")
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO wide VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s,"
                            " %s, %s)", rows)
        conn.commit()
        return time.perf_counter() - t0


def figure(name: str, value: float, unit: str, floor: float, target: str, met: bool,
           ratio: float | None = None) -> dict[str, Any]:
    return {"name": name, "value": round(value, 1), "unit": unit, "floor": round(floor, 1),
            "ratio": round(ratio if ratio is not None else value / floor, 3),
            "target": target, "met": met}


def measure(url: str, n_patients: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "big.json", Path(tmp) / "small.json"
        n_obs = write_file(big, n_patients)
        write_file(small, max(1, n_patients // 4))
        with scratch_database(url) as db:
            first = child(IMPORT_BODY, db, str(big))
            again = child(IMPORT_BODY, db, str(big))
        with scratch_database(url) as db:
            small_run = child(IMPORT_BODY, db, str(small))
        patients = list(cohort(n_patients))
        with scratch_database(url) as db:
            core_s = core_floor(db, patients)
            raw_s = raw_floor(db, patients)
        idle = child(IDLE_BODY)
    assert first["observations_created"] == n_obs, first
    assert again["observations_unchanged"] == n_obs, again
    rate, rerate = n_obs / first["seconds"], n_obs / again["seconds"]
    core, raw = n_obs / core_s, n_obs / raw_s
    rss, rss_small = first["rss_mb"], small_run["rss_mb"]
    flat = rss <= rss_small * 1.25 + 10
    return [
        figure("import, observations/s", rate, "obs/s", core,
               f">= 0.30 of the Core executemany floor ({n_obs} observations)",
               rate >= 0.30 * core),
        figure("import, observations/s, vs raw psycopg", rate, "obs/s", raw,
               ">= 0.05 of a raw psycopg executemany into one table", rate >= 0.05 * raw),
        figure("re-import of an unchanged file, observations/s", rerate, "obs/s", core,
               ">= 0.50 of the Core executemany floor", rerate >= 0.50 * core),
        figure("import peak RSS", rss, "MB", idle["rss_mb"],
               f"< 300 MB and flat in file size ({n_patients // 4} patients: "
               f"{rss_small:.0f} MB)", rss < 300 and flat),
        figure("re-import peak RSS", again["rss_mb"], "MB", idle["rss_mb"], "< 300 MB",
               again["rss_mb"] < 300),
    ]


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    for f in measure(url, n):
        print(f"{f['name']:<60} {f['value']:>10} {f['unit']:<6} floor {f['floor']:>10}"
              f"  ratio {f['ratio']:<7} {'met' if f['met'] else 'NOT MET'} ({f['target']})")


if __name__ == "__main__":
    main()
