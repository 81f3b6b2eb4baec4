"""Covariates: which ones a family's model uses, and how a lesion's baseline becomes numbers.

Pure (standard library): a stored fit carries its `Coding`s, so a prediction codes a lesion
exactly as the fit did, without the fitting libraries.

Choices (why):
- Each family has a covariate order fixed in advance from the literature (hadd: Gärtner type
  [S24], size [S10], pain, age, region, modality, entity; ho: cause, size, age, region, modality,
  pain, entity; generic: entity, size, ...). Covariates enter in that order while the family's
  events allow 10 per parameter; one that would exceed it is left out (the next smaller one may
  still fit). No selection by p-values, so the intervals keep their meaning.
- A categorical level needs `MIN_LEVEL_EVENTS` resolutions of its own to get a parameter;
  rarer levels are pooled as "other" (a parameter only if the pool has that support), else
  counted with the reference level. A level never seen in the data is coded as the pool.
- Size enters as log2 of the longest diameter (an effect per doubling: measurement error and
  deposit growth are multiplicative), age per 10 years; a missing age is set to the median with
  an indicator when enough lesions lack it. Pain is grouped (0-2 about painless, as the rules'
  info severity; 3-6; 7-10; not recorded).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from tracker.prognosis.records import Baseline, LesionRecord
from tracker.vocabulary import Family, Modality, label

MIN_LEVEL_EVENTS = 10
MIN_EVENTS_PER_PARAMETER = 10
NOT_GRADED = "not graded"
NOT_RECORDED = "not recorded"
OTHER = "other"

COVARIATE_ORDER: dict[str, tuple[str, ...]] = {
    Family.HADD.value: ("gartner", "size", "pain", "age", "region", "modality", "entity"),
    Family.HO.value: ("event_kind", "size", "age", "region", "modality", "pain", "entity"),
    Family.GENERIC.value: ("entity", "size", "age", "region", "modality", "pain"),
}
COVARIATE_LABELS = {
    "gartner": "Gärtner type", "size": "longest diameter", "pain": "pain", "age": "age",
    "region": "region", "modality": "modality", "entity": "entity", "event_kind": "cause",
}
CONTINUOUS = frozenset({"size", "age"})
PREFERRED_REFERENCE = {"gartner": "I", "pain": "0-2", "modality": Modality.XR.value}


def _pain_group(pain: int | None) -> str:
    if pain is None:
        return NOT_RECORDED
    return "0-2" if pain <= 2 else "3-6" if pain <= 6 else "7-10"


CATEGORY_OF: dict[str, Callable[[Baseline], str]] = {
    "gartner": lambda b: b.gartner or NOT_GRADED,
    "pain": lambda b: _pain_group(b.pain),
    "region": lambda b: b.region,
    "modality": lambda b: b.modality,
    "entity": lambda b: b.entity,
    "event_kind": lambda b: b.event_kind or NOT_RECORDED,
}


def _size(b: Baseline) -> float | None:
    return math.log2(b.size_mm)


def _age(b: Baseline) -> float | None:
    return None if b.age_years is None else float(b.age_years)


NUMBER_OF: dict[str, Callable[[Baseline], float | None]] = {"size": _size, "age": _age}
SCALE = {"size": 1.0, "age": 10.0}  # per doubling; per 10 years


@dataclass(frozen=True)
class Coding:
    """How one covariate becomes model columns (`terms`, in order).

    Categorical: `levels` maps each level seen in the fit data to its term, or to "" for the
    reference; `fallback` is the term of a level the fit never saw ("" = reference).
    Continuous: (value - `center`) / `scale`; a missing value is `center`, plus the
    `missing_term` indicator when there is one.
    """

    covariate: str
    kind: Literal["categorical", "continuous"]
    terms: tuple[str, ...]
    labels: tuple[str, ...]
    reference: str = ""
    levels: tuple[tuple[str, str], ...] = ()
    fallback: str = ""
    center: float = 0.0
    scale: float = 1.0
    missing_term: str = ""


@dataclass(frozen=True)
class Dropped:
    """A covariate of the family's list that is not in the model, and why."""

    covariate: str
    reason: str


def _categorical(covariate: str, baselines: Sequence[Baseline],
                 events: Sequence[bool]) -> Coding | None:
    of = CATEGORY_OF[covariate]
    values = [of(b) for b in baselines]
    count = Counter(values)
    resolved = Counter(v for v, e in zip(values, events, strict=True) if e)
    kept = sorted(v for v in count if resolved[v] >= MIN_LEVEL_EVENTS)
    rare = sorted(v for v in count if v not in kept)
    pooled = sum(resolved[v] for v in rare) >= MIN_LEVEL_EVENTS and len(rare) > 0
    if not kept:
        return None
    preferred = PREFERRED_REFERENCE.get(covariate)
    reference = preferred if preferred in kept else max(kept, key=lambda v: (count[v], v))
    # a single supported level and no pool: all lesions alike for this covariate
    if len(kept) == 1 and not pooled:
        return None
    named = [v for v in kept if v != reference]
    terms = [f"{covariate}:{v}" for v in named]
    labels = [f"{COVARIATE_LABELS[covariate]} {label(v)} (vs {label(reference)})" for v in named]
    levels = [(v, f"{covariate}:{v}") for v in named] + [(reference, "")]
    fallback = ""
    if pooled:
        fallback = f"{covariate}:{OTHER}"
        terms.append(fallback)
        labels.append(f"{COVARIATE_LABELS[covariate]} {OTHER} (vs {label(reference)})")
    levels += [(v, fallback) for v in rare]
    return Coding(covariate, "categorical", tuple(terms), tuple(labels), reference=reference,
                  levels=tuple(sorted(levels)), fallback=fallback)


def _continuous(covariate: str, baselines: Sequence[Baseline],
                events: Sequence[bool]) -> Coding | None:
    values = [NUMBER_OF[covariate](b) for b in baselines]
    known = sorted(v for v in values if v is not None)
    if len(set(known)) < 2:
        return None
    center = known[len(known) // 2]
    missing_events = sum(1 for v, e in zip(values, events, strict=True) if v is None and e)
    what = COVARIATE_LABELS[covariate]
    per = "per doubling" if covariate == "size" else f"per {SCALE[covariate]:g} years"
    terms, labels = [covariate], [f"{what}, {per}"]
    missing_term = ""
    if missing_events >= MIN_LEVEL_EVENTS:
        missing_term = f"{covariate}:{NOT_RECORDED}"
        terms.append(missing_term)
        labels.append(f"{what} {NOT_RECORDED}")
    return Coding(covariate, "continuous", tuple(terms), tuple(labels), center=center,
                  scale=SCALE[covariate], missing_term=missing_term)


def coding_of(covariate: str, records: Sequence[LesionRecord]) -> Coding | None:
    """The covariate's coding on these records; None when it cannot vary."""
    baselines = [r.baseline for r in records]
    events = [r.outcome.event for r in records]
    if covariate in CONTINUOUS:
        return _continuous(covariate, baselines, events)
    return _categorical(covariate, baselines, events)


def choose_codings(family: str, records: Sequence[LesionRecord]
                   ) -> tuple[list[Coding], list[Dropped]]:
    """The family's covariates in their fixed order, while 10 events per parameter allow."""
    budget = sum(r.outcome.event for r in records) // MIN_EVENTS_PER_PARAMETER
    chosen: list[Coding] = []
    dropped: list[Dropped] = []
    used = 0
    for covariate in COVARIATE_ORDER[family]:
        coding = coding_of(covariate, records)
        if coding is None:
            dropped.append(Dropped(covariate, "the same for every lesion with enough support"))
        elif used + len(coding.terms) > budget:
            dropped.append(Dropped(
                covariate, f"needs {len(coding.terms) * MIN_EVENTS_PER_PARAMETER} more "
                           "resolutions (10 per parameter)"))
        else:
            chosen.append(coding)
            used += len(coding.terms)
    return chosen, dropped


def code_lesion(codings: Sequence[Coding], baseline: Baseline) -> tuple[list[float], list[str]]:
    """The lesion's value of every term, in order, and notes on levels the fit never saw."""
    values: list[float] = []
    notes: list[str] = []
    for coding in codings:
        if coding.kind == "continuous":
            number = NUMBER_OF[coding.covariate](baseline)
            values.append(0.0 if number is None else (number - coding.center) / coding.scale)
            if coding.missing_term:
                values.append(1.0 if number is None else 0.0)
            continue
        level = CATEGORY_OF[coding.covariate](baseline)
        levels = dict(coding.levels)
        term = levels.get(level)
        if term is None:
            term = coding.fallback
            where = OTHER if term else label(coding.reference)
            notes.append(f"{COVARIATE_LABELS[coding.covariate]} {label(level)} not in this "
                         f"clinic's data: counted as {where}")
        values += [1.0 if t == term else 0.0 for t in coding.terms]
    return values, notes


def terms_of(codings: Sequence[Coding]) -> list[str]:
    return [t for c in codings for t in c.terms]


def labels_of(codings: Sequence[Coding]) -> list[str]:
    return [lab for c in codings for lab in c.labels]


def shown_value(coding: Coding, baseline: Baseline) -> str:
    """The lesion's value of a covariate as a person reads it (prediction context)."""
    if coding.covariate == "size":
        return f"{baseline.size_mm:.1f} mm"
    if coding.covariate == "age":
        return NOT_RECORDED if baseline.age_years is None else f"{baseline.age_years} years"
    return label(CATEGORY_OF[coding.covariate](baseline))


def without_terms(coding: Coding, removed: set[str]) -> Coding | None:
    """The coding with some terms removed (collinear with earlier ones): a removed level
    counts with the reference; None when nothing of the covariate is left."""
    if not removed & set(coding.terms):
        return coding
    kept = [(t, lab) for t, lab in zip(coding.terms, coding.labels, strict=True)
            if t not in removed]
    if not kept or (coding.kind == "continuous" and coding.covariate in removed):
        return None
    return replace(
        coding,
        terms=tuple(t for t, _ in kept),
        labels=tuple(lab for _, lab in kept),
        levels=tuple((v, "" if t in removed else t) for v, t in coding.levels),
        fallback="" if coding.fallback in removed else coding.fallback,
        missing_term="" if coding.missing_term in removed else coding.missing_term,
    )
