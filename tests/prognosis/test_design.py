"""Covariate coding on sparse data: rare levels pooled, constant and collinear columns dropped,
a value the fit never saw coded as the pool, and said."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import date

import numpy as np

from tracker.prognosis.design import (
    NOT_RECORDED,
    OTHER,
    choose_codings,
    code_lesion,
    coding_of,
)
from tracker.prognosis.fit import _drop_collinear
from tracker.prognosis.outcome import Outcome
from tracker.prognosis.records import Baseline, LesionRecord

BASE = Baseline("hadd", "hadd", "shoulder", "XR", 12.0, gartner="II", pain=None, age_years=60)


def cohort(regions: dict[str, tuple[int, int]], **base: object) -> list[LesionRecord]:
    """(lesions, resolutions) per region."""
    out = []
    for region, (n, events) in regions.items():
        for i in range(n):
            baseline = replace(BASE, region=region, size_mm=8.0 + i % 7, **base)  # type: ignore[arg-type]
            out.append(LesionRecord(f"{region}{i}/L1", baseline,
                                    Outcome(date(2020, 1, 1), 200 + i, i < events, 100 + i)))
    return out


def test_rare_levels_are_pooled_as_other_or_counted_with_the_reference() -> None:
    records = cohort({"shoulder": (60, 30), "hip": (30, 12), "elbow": (8, 6), "knee": (8, 5)})
    coding = coding_of("region", records)
    assert coding is not None
    # shoulder is the most frequent: the reference; elbow + knee (11 resolutions) pooled
    assert coding.reference == "shoulder"
    assert coding.terms == ("region:hip", f"region:{OTHER}")
    assert dict(coding.levels) == {"shoulder": "", "hip": "region:hip",
                                   "elbow": f"region:{OTHER}", "knee": f"region:{OTHER}"}
    values, notes = code_lesion([coding], replace(BASE, region="ankle"))
    assert values == [0.0, 1.0] and notes == [
        "region Ankle not in this clinic's data: counted as other"]

    small_pool = coding_of("region", cohort({"shoulder": (60, 30), "hip": (30, 12),
                                             "elbow": (8, 6)}))
    assert small_pool is not None and small_pool.terms == ("region:hip",)
    assert dict(small_pool.levels)["elbow"] == ""  # with the reference
    values, notes = code_lesion([small_pool], replace(BASE, region="ankle"))
    assert values == [0.0] and "counted as Shoulder" in notes[0]


def test_constant_covariates_are_dropped_and_the_preferred_reference_kept() -> None:
    records = cohort({"shoulder": (60, 30)})
    codings, dropped = choose_codings("hadd", records)
    assert [c.covariate for c in codings] == ["size"]  # one region, modality, type, age
    assert {d.covariate for d in dropped} == {"gartner", "pain", "age", "region", "modality",
                                              "entity"}
    gartner = coding_of("gartner", [
        replace(r, baseline=replace(r.baseline, gartner="I" if i % 2 else "III"))
        for i, r in enumerate(cohort({"shoulder": (80, 40)}))])
    assert gartner is not None and gartner.reference == "I" and gartner.terms == (
        "gartner:III",)


def test_a_missing_age_gets_an_indicator_only_with_support() -> None:
    """Resolutions are lesions 0-29: 25 of them without an age is support for an indicator,
    one is not (it is set to the median age); one age for everyone is no covariate."""
    some = cohort({"shoulder": (60, 30)})

    def ages(missing: int) -> list[LesionRecord]:
        return [replace(r, baseline=replace(r.baseline,
                                            age_years=None if i < missing else 40 + i))
                for i, r in enumerate(some)]

    age = coding_of("age", ages(25))
    assert age is not None and age.terms == ("age", f"age:{NOT_RECORDED}")
    values, _ = code_lesion([age], replace(BASE, age_years=None))
    assert values == [0.0, 1.0]
    one = coding_of("age", ages(1))
    assert one is not None and one.terms == ("age",)
    assert code_lesion([one], replace(BASE, age_years=None))[0] == [0.0]
    assert coding_of("age", some) is None  # everyone 60


def test_collinear_columns_are_dropped_with_the_later_covariate() -> None:
    """Every hip or elbow deposit is 'not graded' and every shoulder one graded: the region
    adds nothing once the Gärtner type is in."""
    records = []
    for region, gartner in (("shoulder", "I"), ("shoulder", "III"), ("hip", None),
                            ("elbow", None)):
        records += [replace(r, baseline=replace(r.baseline, gartner=gartner))
                    for r in cohort({region: (30, 15)})]
    codings = [c for c in (coding_of("gartner", records), coding_of("region", records))
               if c is not None]
    assert [c.terms for c in codings] == [("gartner:III", "gartner:not graded"),
                                          ("region:elbow", "region:hip")]
    x = np.array([code_lesion(codings, r.baseline)[0] for r in records])
    kept, reduced, dropped = _drop_collinear(codings, x)
    assert [c.terms for c in kept] == [("gartner:III", "gartner:not graded"),
                                       ("region:elbow",)]
    assert reduced.shape == (len(records), 3)
    assert [(d.covariate, d.reason) for d in dropped] == [
        ("region:hip", "collinear with covariates before it: counted with the reference level")]
    assert dict(kept[1].levels)["hip"] == ""  # hip now counts with the reference


def test_predicting_needs_no_fitting_library_nor_database() -> None:
    """A page predicts from a stored fit: importing the prediction loads neither numpy,
    pandas, lifelines nor SQLAlchemy."""
    code = ("import sys, json, tracker.prognosis.predict; "
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    loaded = {m.split(".")[0] for m in json.loads(out.stdout)}
    assert loaded.isdisjoint({"numpy", "pandas", "lifelines", "scipy", "sqlalchemy"})
