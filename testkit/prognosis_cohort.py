"""A seeded cohort of shoulder-clinic HADD deposits whose times to resolution follow a KNOWN
model, written as `lesion-timeline/1`, to check that the prognosis fit recovers it.

Truth (`Truth`): a Weibull AFT on the days from the first film to the day the deposit is gone,
with time ratios for the Gärtner type ([S24]: fluffy type III deposits vanish far more often
than sharp type I ones: 85 % against 33 % within 3 years is TR 0.35 at shape 1.5), for a
deposit that cannot be graded (not on a shoulder radiograph), and per doubling of the size
([S10]: larger deposits last longer). Pain, age, region and modality have no effect (TR 1).

What a clinic sees of it: a film every 2-5 months while the deposit is there (its size
shrinking towards resolution); the first film after it is gone shows nothing (the engine stages
it `resolved`, unconfirmed) and, for 85 % of lesions, a second film 5-17 weeks later confirms it
(>= 28 days: `resolved`, confirmed); follow-up ends at a random date (lost or end of data).
3 % of films miss a deposit that is there (a missed projection: the next film shows it again).
A fifth of the deposits get a lavage 2-18 months in, and resolve 1-5 months after it: the
records must end follow-up at the lavage (natural history), or the fit would be wrong. So the
true time lies in the interval between the last film that showed the deposit and the first that
did not, which is what the interval-censored fit uses.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from tracker.prognosis.model import Fit
from tracker.prognosis.outcome import Visit
from tracker.prognosis.records import LesionRecord, lesion_record
from tracker.vocabulary import Family, Stage

START = date(2017, 1, 2)
ENTRY_SPAN_DAYS = 1100  # first films spread over three years
END = START + timedelta(days=ENTRY_SPAN_DAYS + 1100)  # the data end (as_of)

MORPHOLOGY = {  # Gärtner I, II, III on a shoulder radiograph (rules §7, 9a.9)
    "I": {"density": "dense", "margin": "well_defined", "texture": "homogeneous",
          "pattern": "nodular"},
    "II": {"density": "moderate", "margin": "well_defined", "texture": "homogeneous",
           "pattern": "nodular"},
    "III": {"density": "moderate", "margin": "ill_defined", "texture": "heterogeneous",
            "pattern": "cloud"},
}


@dataclass(frozen=True)
class Truth:
    """The generating model (lifelines' Weibull AFT parametrisation, days)."""

    scale_days: float = 2017.0  # Gärtner I, 12 mm: 33 % gone within 3 years [S24]
    shape: float = 1.5
    reference_size_mm: float = 12.0
    time_ratios: tuple[tuple[str, float], ...] = (
        ("gartner:II", 0.6), ("gartner:III", 0.35), ("gartner:not graded", 0.55),
        ("size", 1.6),
    )
    missed_film: float = 0.03
    confirmed_share: float = 0.85
    lavage_share: float = 0.2

    def ratio(self, term: str) -> float:
        """The true time ratio of a model term (1 for every term without an effect)."""
        return dict(self.time_ratios).get(term, 1.0)

    def log_scale(self, gartner: str, size_mm: float) -> float:
        """log of the true Weibull scale: the true model's prediction for a lesion."""
        return (math.log(self.scale_days)
                + (math.log(self.ratio(f"gartner:{gartner}")) if gartner != "I" else 0.0)
                + math.log(self.ratio("size")) * math.log2(size_mm / self.reference_size_mm))


TRUTH = Truth()


@dataclass(frozen=True)
class Film:
    day: int
    visible: bool
    size_mm: float | None = None


@dataclass(frozen=True)
class SimulatedLesion:
    """One lesion: what the truth says, and what its films show."""

    key: str
    birth_year: int | None
    region: str
    modality: str
    gartner: str  # I, II, III or "not graded"
    morphology: dict[str, str]
    pain: int | None
    first: date
    true_days: float
    true_log_scale: float
    lavage_day: int | None
    films: tuple[Film, ...]


@dataclass
class Simulation:
    seed: int
    truth: Truth
    lesions: list[SimulatedLesion] = field(default_factory=list)
    as_of: date = END

    def document(self) -> dict[str, Any]:
        """The cohort as `lesion-timeline/1` (one patient per lesion)."""
        return {"format": "lesion-timeline/1",
                "patients": [_patient(le) for le in self.lesions]}

    def direct_records(self) -> list[LesionRecord]:
        """The records the engine should give, built from the films without it (a negative
        film of a deposit seen before is `resolved`; the stage of a visible film is only read
        as "not resolved"): for fits at sizes the engine would take long to reach."""
        out = []
        for le in self.lesions:
            visits = [Visit(le.first + timedelta(days=f.day), f.visible, le.modality,
                            Stage.FORMATIVE.value if f.visible else Stage.RESOLVED.value,
                            f.size_mm, le.pain if f.day == 0 else None,
                            le.gartner if f.day == 0 and le.gartner != "not graded" else None)
                      for f in le.films]
            record = lesion_record(
                le.key, family=Family.HADD.value, entity="hadd", region=le.region,
                event_kind=None, birth_year=le.birth_year, visits=visits,
                first_invasive=None if le.lavage_day is None
                else le.first + timedelta(days=le.lavage_day))
            assert record is not None
            out.append(record)
        return out


def _patient(le: SimulatedLesion) -> dict[str, Any]:
    observations = []
    for f in le.films:
        obs: dict[str, Any] = {"date": (le.first + timedelta(days=f.day)).isoformat(),
                               "modality": le.modality}
        if f.visible:
            obs["size_mm"] = [f.size_mm]
            obs.update(le.morphology)
            if f.day == 0 and le.pain is not None:
                obs["pain"] = le.pain
        else:
            obs["visible"] = False
        observations.append(obs)
    lesion: dict[str, Any] = {
        "id": "L1", "entity": "hadd", "observations": observations,
        "site": {"compartment": "tendon", "region": le.region, "laterality": "right"},
    }
    if le.lavage_day is not None:
        lesion["treatments"] = [{"date": (le.first + timedelta(days=le.lavage_day)).isoformat(),
                                 "kind": "lavage"}]
    patient: dict[str, Any] = {"id": le.key.split("/")[0], "lesions": [lesion]}
    if le.birth_year is not None:
        patient["birth_year"] = le.birth_year
    return patient


def _films(rng: random.Random, truth: Truth, size_mm: float, gone_day: float,
           follow_up_days: int) -> list[Film]:
    """Films every 2-5 months while the deposit is there, then one or two negatives."""
    films = [Film(0, True, size_mm)]
    day = 0
    while True:
        day += rng.randint(60, 150)
        if day > follow_up_days:
            return films
        if day < gone_day:
            if rng.random() < truth.missed_film:
                films.append(Film(day, False))
                continue
            shrink = max(0.25, 1 - 0.6 * day / gone_day) * rng.uniform(0.97, 1.03)
            films.append(Film(day, True, round(max(1.0, size_mm * shrink), 1)))
            continue
        films.append(Film(day, False))
        confirm = day + rng.randint(35, 120)
        if rng.random() < truth.confirmed_share and confirm <= follow_up_days:
            films.append(Film(confirm, False))
        return films


def simulate(n_lesions: int, seed: int, truth: Truth = TRUTH) -> Simulation:
    """`n_lesions` shoulder-clinic deposits (80 % shoulder, 85 % radiographs), seeded."""
    rng = random.Random(seed)
    sim = Simulation(seed, truth)
    for i in range(n_lesions):
        region = rng.choices(("shoulder", "hip", "elbow"), (8, 1, 1))[0]
        modality = "XR" if rng.random() < 0.85 else "US"
        look = rng.choices(("I", "II", "III"), (35, 30, 35))[0]
        graded = region == "shoulder" and modality == "XR"
        gartner = look if graded else "not graded"
        size = round(min(40.0, max(3.0, math.exp(rng.gauss(math.log(12.0), 0.35)))), 1)
        log_scale = truth.log_scale(gartner, size)
        true_days = math.exp(log_scale) * (-math.log(1.0 - rng.random())) ** (1 / truth.shape)
        first = START + timedelta(days=rng.randrange(ENTRY_SPAN_DAYS))
        follow_up = min((END - first).days, int(rng.expovariate(1 / 1500)) + 1)
        gone = true_days
        lavage = None
        if rng.random() < truth.lavage_share:
            day = rng.randint(60, 540)
            if day < min(true_days, follow_up):
                lavage = day
                gone = min(true_days, day + rng.randint(30, 150))
        sim.lesions.append(SimulatedLesion(
            key=f"SIM{seed}-{i:05d}/L1",
            birth_year=None if rng.random() < 0.1 else rng.randint(1940, 1985),
            region=region, modality=modality, gartner=gartner, morphology=MORPHOLOGY[look],
            pain=None if rng.random() < 0.3 else rng.randint(0, 10), first=first,
            true_days=true_days, true_log_scale=log_scale, lavage_day=lavage,
            films=tuple(_films(rng, truth, size, gone, follow_up)),
        ))
    return sim


def covered(fit: Fit, truth: Truth = TRUTH) -> dict[str, bool]:
    """For every effect of the fit: is the true time ratio inside its 95 % CI?"""
    return {e.term: e.ci_lower <= truth.ratio(e.term) <= e.ci_upper for e in fit.effects}
