"""Fits stored and versioned: a refit reads the stored assessments (the same records the engine
gives), stores a family's fit only when it changed, and `tracker cohort prognosis` and
`tracker show --json` read the latest stored fit."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.prognosis.stored_fit import imported, usable_fit
from tracker.config import from_env
from tracker.models import Alert, Lesion, Patient
from tracker.prognosis.engine_records import records_of_timeline
from tracker.prognosis.model import NOT_ENOUGH
from tracker.prognosis.stored import stored_records
from tracker.prognosis.table import PrognosisFit
from tracker.queries.prognosis import latest_fits
from tracker.services.prognosis import refit, store_fit
from workers.names import REFIT_PROGNOSIS


def test_refit_stores_a_new_version_only_when_the_fit_changed(session: Session) -> None:
    sim, timeline = imported(session, 20, seed=33)
    streamed = sorted((r for _, r in stored_records(session)), key=lambda r: r.key)
    from_engine, _ = records_of_timeline(timeline, sim.as_of)
    assert streamed == sorted(from_engine, key=lambda r: r.key)

    first = refit(session, fitted_at=datetime(2026, 3, 1, 2, 0, tzinfo=UTC))
    session.commit()
    assert [(r.family, r.version, r.stored) for r in first] == [
        ("hadd", 1, True), ("ho", 1, True), ("generic", 1, True)]
    again = refit(session, fitted_at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    session.commit()
    assert [(r.version, r.stored) for r in again] == [(1, False)] * 3
    assert session.scalar(select(func.count()).select_from(PrognosisFit)) == 3

    imported(session, 5, seed=83)  # new follow-up data: only hadd's fit changes
    third = refit(session, fitted_at=datetime(2026, 3, 3, 2, 0, tzinfo=UTC))
    session.commit()
    assert [(r.family, r.version, r.stored) for r in third] == [
        ("hadd", 2, True), ("ho", 1, False), ("generic", 1, False)]
    latest = latest_fits(session)
    assert latest["hadd"].version == 2
    assert latest["hadd"].fit.n == third[0].n and latest["hadd"].fit.fitted_at.startswith(
        "2026-03-03")
    assert latest["ho"].fit.refusal is not None
    assert latest["ho"].fit.refusal.text.startswith(NOT_ENOUGH)


def test_cohort_prognosis_prints_the_current_model(run: Any, session: Session) -> None:
    none_yet = json.loads(run("cohort", "prognosis", "--json").output)
    assert [m["family"] for m in none_yet["models"]] == ["hadd", "ho", "generic"]
    assert all(m["version"] is None and m["refusal"]["code"] == "not_fitted"
               for m in none_yet["models"])

    fit = usable_fit()
    store_fit(session, fit)
    session.commit()
    text = run("cohort", "prognosis", "--family", "hadd").output
    assert "hadd: version 1 (weibull-aft/1), fitted 2026-01-02T03:00:00+00:00" in text
    assert f"{fit.n} lesions followed, {fit.events} resolutions" in text
    assert f"C-index (5-fold cross-validated) {fit.c_index:.2f}" in text
    assert "used for predictions" in text
    type_iii = next(e for e in fit.effects if e.term == "gartner:III")
    line = next(x for x in text.splitlines() if "Gärtner type III (vs I)" in x)
    assert line.split()[-4:] == [f"{type_iii.time_ratio:.2f}",
                                 f"{type_iii.ci_lower:.2f}-{type_iii.ci_upper:.2f}",
                                 str(type_iii.n), str(type_iii.events)]
    shown = json.loads(run("cohort", "prognosis", "--family", "hadd", "--json").output)
    [model] = shown["models"]
    assert (model["version"], model["usable"], model["n"], model["c_index"]) == (
        1, True, fit.n, fit.c_index)
    assert [(e["term"], e["ci_lower"], e["ci_upper"]) for e in model["effects"]] == [
        (e.term, e.ci_lower, e.ci_upper) for e in fit.effects]

    # a refit on this (empty) database: the next version, honestly refused
    fitted = run("cohort", "prognosis", "fit", "--family", "hadd").output
    assert "hadd: version 2 stored; 0 lesions followed, 0 resolutions; not used" in fitted
    text = run("cohort", "prognosis", "--family", "hadd").output
    assert "version 2" in text and f"not used: {NOT_ENOUGH}" in text


def test_show_json_gives_each_lesion_its_prognosis(run: Any, session: Session) -> None:
    fit = usable_fit()
    store_fit(session, fit)
    session.commit()
    imported(session, 30, seed=41)
    patient = session.scalar(select(Patient.external_id).join(Lesion).join(Alert).where(
        Alert.kind == "no_resolution", Alert.state == "open").limit(1))
    assert patient is not None
    doc = json.loads(run("show", patient, "--json").output)
    [lesion] = doc["lesions"]
    p = lesion["prognosis"]
    assert p["status"] == "available" and p["code"] is None
    assert p["model"]["version"] == 1 and p["model"]["usable"] is True
    assert (p["model"]["n"], p["model"]["events"]) == (fit.n, fit.events)
    assert [b["months"] for b in p["by_month"]] == [6, 12, 24]
    for b in p["by_month"]:
        assert 0 <= b["ci_lower"] <= b["probability"] <= b["ci_upper"] <= 1
    low, high = p["median_ci"]
    assert low <= p["median_days"] <= high
    assert p["baseline"]["region"] and p["baseline"]["size"].endswith(" mm")
    # the open no_resolution alert: where the lesion stands among similar deposits
    standing = p["standing"]
    assert standing is not None
    assert standing["text"].startswith(f"{standing['percent']:.0f} % of similar deposits in this "
                                       "clinic resolve sooner")
    assert standing["ci_lower"] <= standing["percent"] <= standing["ci_upper"]


def test_beat_refits_nightly_after_the_scan(database_url: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.schedule import beat_schedule
    from workers.tasks import refit_prognosis_task

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SCAN_HOUR", "2")
    monkeypatch.setenv("SCAN_MINUTE", "15")
    entry = beat_schedule(from_env())["refit-prognosis-nightly"]
    assert entry["task"] == REFIT_PROGNOSIS
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({3}, {45})
    first = refit_prognosis_task()
    assert [(r["family"], r["version"], r["stored"]) for r in first] == [
        ("hadd", 1, True), ("ho", 1, True), ("generic", 1, True)]
    assert all(not r["stored"] for r in refit_prognosis_task())  # a rerun stores nothing
