"""A real fit stored as a file (`hadd_fit.json`: the hadd model fitted on `simulate(600, 1)`,
used), so tests of what reads stored fits need no fitting; and a simulated cohort imported and
assessed through the real services."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from testkit.prognosis_cohort import TRUTH, Simulation, simulate
from tracker.prognosis.model import Fit, fit_from_json
from tracker.queries.to_assess import all_lesions
from tracker.services.assessment.assess import assess_lesions
from tracker.services.imports import import_timeline
from tracker.timeline.models import Timeline
from tracker.timeline.reader import validate_timeline

FIT_FILE = Path(__file__).with_name("hadd_fit.json")


def usable_fit() -> Fit:
    return fit_from_json(json.loads(FIT_FILE.read_text()))


def imported(session: Session, n: int, seed: int) -> tuple[Simulation, Timeline]:
    """`n` simulated deposits imported and assessed as of the simulation's end."""
    sim = simulate(n, seed, truth=replace(TRUTH, missed_film=0.0))
    timeline = validate_timeline(sim.document(), today=date.today())
    import_timeline(session, timeline, actor="test")
    assess_lesions(session, all_lesions(session), sim.as_of)
    session.commit()
    return sim, timeline
