"""The demo cohort: a lesion-timeline/1 file (`data/demo.timeline.json`) whose dates move with
today, so the alerts it is meant to raise are open when a person looks at it.

The file is a valid timeline written as seen on `ANCHOR`; loading shifts every observation date
and event date by the days from `ANCHOR` to today, then validates it like any imported file.
It holds every entity family (HADD, HO, generic with each expected course) and every alert kind
of clinical-rules.md §4, one course per patient, twice (DEMO-001..020 and DEMO-021..040, the
second with caliper-level noise); DEMO-001 also has three more lesions, as in a shoulder clinic:

 1 HADD, full Uhthoff cycle to resolution      11 post-traumatic patellar ossification, maturing
 2 HADD unchanged for a year (no_resolution)   12 rapidly destructive hip arthropathy
 3 HADD persistent, not re-imaged (overdue)    13 degenerative enthesopathy, stable for years
 4 HADD resorbing into bone (rapid, bone)      14 undiagnosed vascular (suggested: phlebolith)
 5 HADD regrowth after resorption              15 CPPD of the knee that seems to regress
 6 HADD cross-modality follow-up               16 gouty tophus, not re-imaged (overdue)
 7 periarticular HADD of the hip, resorbing    17 tumoral calcinosis of the hip
 8 HO after trauma, normal zonal maturation    18 crowned dens on CT
 9 HO with central mineralisation (atypical)   19 longus colli calcific tendinitis, resolved
10 HO after arthroplasty, not maturing         20 HADD on MR: not seen on MR, stage carried
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from importlib.resources import files
from typing import Any

from tracker.timeline.models import Timeline
from tracker.timeline.reader import validate_timeline

DEMO_PREFIX = "DEMO-"
ANCHOR = date(2026, 1, 1)


def document(today: date) -> dict[str, Any]:
    """The demo file as a lesion-timeline/1 document with its dates moved to `today`."""
    doc: dict[str, Any] = json.loads(
        files("tracker").joinpath("data/demo.timeline.json").read_text(encoding="utf-8")
    )
    shift = today - ANCHOR

    def moved(iso: str) -> str:
        return (date.fromisoformat(iso) + timedelta(days=shift.days)).isoformat()

    for patient in doc["patients"]:
        for lesion in patient["lesions"]:
            if "event_date" in lesion:
                lesion["event_date"] = moved(lesion["event_date"])
            for obs in lesion["observations"]:
                obs["date"] = moved(obs["date"])
    return doc


def timeline(today: date) -> Timeline:
    """The demo cohort, validated like an imported file."""
    return validate_timeline(document(today), today=today)
