"""The prognosis as pages, `tracker show --json`, the API and the CLI read it: the latest stored
fit of each family (no refit per request), a lesion's `prognosis` object, a model's summary.

The one JSON shape of a lesion's prognosis (README "Prognosis"): `status` `available` (numbers,
each with its 95 % CI and the model's support) or `unavailable` with a `code` and a `text`
("not enough follow-up data in this clinic: ...", or why this lesion has no prediction). A
refused model never gives a number: the fit decides `usable`, and this is the one place that
turns a fit into what is shown.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.models import Lesion
from tracker.prognosis.model import (
    MODEL,
    NOT_FITTED,
    Fit,
    Prediction,
    Standing,
    Unavailable,
    fit_from_json,
)
from tracker.prognosis.predict import predict, standing, unavailable
from tracker.prognosis.records import LesionRecord
from tracker.prognosis.stored import family_of, record_of_lesion, stored_records
from tracker.prognosis.table import PrognosisFit
from tracker.vocabulary import AlertKind, AlertState

# How pages name a family's model (the family codes are the stage models of the vocabulary).
FAMILY_LABELS = {
    "hadd": "Hydroxyapatite deposits (hadd)",
    "ho": "Heterotopic ossification (ho)",
    "generic": "Other calcifications (generic)",
}
PENDING = "pending"
NEVER_SEEN = "never_seen"
NO_ENTITY = "no_family"


@dataclass(frozen=True)
class StoredFit:
    """A family's latest stored fit and its version number."""

    version: int
    fit: Fit


LatestFits = dict[str, StoredFit]


def latest_fits(session: Session) -> LatestFits:
    """Each family's latest stored fit of the current model kind (one query). A fit of another
    model kind is not read as this one: that family counts as not fitted until the refit."""
    newest = (select(PrognosisFit.family, func.max(PrognosisFit.version).label("version"))
              .where(PrognosisFit.model == MODEL).group_by(PrognosisFit.family).subquery())
    rows = session.scalars(select(PrognosisFit).join(
        newest, (newest.c.family == PrognosisFit.family)
        & (newest.c.version == PrognosisFit.version)))
    return {row.family: StoredFit(row.version, fit_from_json(row.fit)) for row in rows}


def model_json(stored: StoredFit) -> dict[str, Any]:
    """Which model answered: family, version, when fitted, its support and C-index."""
    fit = stored.fit
    return {"family": fit.family, "family_label": FAMILY_LABELS.get(fit.family, fit.family),
            "version": stored.version, "model": fit.model,
            "fitted_at": fit.fitted_at, "usable": fit.usable, "n": fit.n,
            "events": fit.events, "c_index": fit.c_index,
            "c_index_ci": list(fit.c_index_ci) if fit.c_index_ci else None}


def _unavailable(code: str, text: str, family: str | None,
                 stored: StoredFit | None = None) -> dict[str, Any]:
    return {"status": "unavailable", "family": family, "code": code, "text": text,
            "model": model_json(stored) if stored else None, "standing": None}


def _answer(answer: Prediction | Unavailable, stored: StoredFit) -> dict[str, Any]:
    if isinstance(answer, Unavailable):
        return {**_unavailable(answer.code, answer.text, answer.family, stored),
                "support": {"n": answer.n, "events": answer.events}}
    return {
        "status": "available", "family": answer.family, "code": None, "text": None,
        "model": model_json(stored),
        "by_month": [{"months": p.months, "probability": p.probability,
                      "ci_lower": p.ci_lower, "ci_upper": p.ci_upper,
                      "extrapolated": p.extrapolated} for p in answer.by_month],
        "median_days": answer.median_days,
        "median_ci": list(answer.median_ci) if answer.median_ci else None,
        "median_note": answer.median_note,
        "baseline": dict(answer.baseline),
        "notes": list(answer.notes),
        "standing": None,
    }


def standing_json(result: Standing | Unavailable) -> dict[str, Any] | None:
    if isinstance(result, Unavailable):
        return None
    return {"days": result.days, "percent": result.percent, "ci_lower": result.ci_lower,
            "ci_upper": result.ci_upper, "text": result.text}


def _standing_days(record: LesionRecord) -> int | None:
    """Days from baseline to the last film that showed the deposit (unresolved lesions)."""
    outcome = record.outcome
    return None if outcome.event or outcome.days <= 0 else outcome.days


def prognosis_of_record(record: LesionRecord | None, family: str | None, fits: LatestFits,
                        *, with_standing: bool) -> dict[str, Any]:
    """The `prognosis` object of one lesion's record (None: pending or never seen)."""
    if family is None:
        return _unavailable(NO_ENTITY, "no prognosis before the lesion's entity is assessed",
                            None)
    stored = fits.get(family)
    if stored is None:
        fit_less = Unavailable(family, NOT_FITTED, "no model fitted yet", 0, 0)
        return {**_unavailable(fit_less.code, fit_less.text, family), "support": None}
    if not stored.fit.usable:
        return _answer(unavailable(stored.fit), stored)
    if record is None:
        return _unavailable(PENDING, "no prediction until the lesion is assessed and has a "
                                     "first visible observation", family, stored)
    out = _answer(predict(stored.fit, record.baseline), stored)
    days = _standing_days(record)
    if with_standing and days is not None:
        out["standing"] = standing_json(standing(stored.fit, record.baseline, days))
    return out


def has_open_no_resolution(lesion: Lesion) -> bool:
    """An uncleared (open, acknowledged or snoozed) no-resolution alert."""
    return any(a.kind == AlertKind.NO_RESOLUTION.value and a.state != AlertState.CLEARED.value
               for a in lesion.alerts)


def lesion_prognosis(lesion: Lesion, birth_year: int | None, fits: LatestFits
                     ) -> dict[str, Any]:
    """The prognosis object of a lesion loaded with everything (`lesion_with_everything`)."""
    return prognosis_of_record(record_of_lesion(lesion, birth_year),
                               family_of(lesion.assessed_entity), fits,
                               with_standing=has_open_no_resolution(lesion))


def standings(session: Session, lesion_ids: Collection[int],
              fits: LatestFits) -> dict[int, dict[str, Any]]:
    """Where each of these (unresolved) lesions stands, for a page of alerts: one query."""
    if not lesion_ids or not any(s.fit.usable for s in fits.values()):
        return {}
    out: dict[int, dict[str, Any]] = {}
    for lesion_id, record in stored_records(session, lesion_ids=lesion_ids):
        stored = fits.get(record.baseline.family)
        days = _standing_days(record)
        if stored is None or not stored.fit.usable or days is None:
            continue
        shown = standing_json(standing(stored.fit, record.baseline, days))
        if shown is not None:
            out[lesion_id] = {**shown, "model": model_json(stored)}
    return out


def alert_standings(session: Session, alerts: Iterable[Any]) -> dict[int, dict[str, Any]]:
    """Where the lesion of each `no_resolution` alert of a page stands (by lesion id), for the
    worklist page and the alert API alike: one query a page."""
    ids = {a.lesion_id for a in alerts if a.kind == AlertKind.NO_RESOLUTION.value}
    return standings(session, ids, latest_fits(session)) if ids else {}


def fits_of_family(session: Session, family: str | None) -> list[tuple[str, StoredFit | None]]:
    """(family, its latest fit or None) for one family or all, in vocabulary order."""
    from tracker.vocabulary import Family

    latest = latest_fits(session)
    families = [family] if family else [f.value for f in Family]
    return [(f, latest.get(f)) for f in families]


def model_summary(family: str, stored: StoredFit | None) -> dict[str, Any]:
    """A family's current model as `tracker cohort prognosis --json` prints it (README)."""
    if stored is None:
        return {"family": family, "family_label": FAMILY_LABELS.get(family, family),
                "version": None, "usable": False,
                "refusal": {"code": NOT_FITTED, "text": "no model fitted yet (the nightly "
                                                        "refit fits one, or now: tracker cohort "
                                                        "prognosis fit)"}}
    fit = stored.fit
    return {
        "family": family, "family_label": FAMILY_LABELS.get(family, family),
        "version": stored.version, "model": fit.model, "fitted_at": fit.fitted_at,
        "engine_version": fit.engine_version, "rules_revision": fit.rules_revision,
        "usable": fit.usable,
        "refusal": {"code": fit.refusal.code, "text": fit.refusal.text} if fit.refusal else None,
        "n": fit.n, "events": fit.events, "unconfirmed_events": fit.unconfirmed_events,
        "excluded_no_follow_up": fit.excluded_no_follow_up,
        "censored_by_treatment": fit.censored_by_treatment,
        "c_index": fit.c_index,
        "c_index_ci": list(fit.c_index_ci) if fit.c_index_ci else None,
        "covariates": list(fit.covariates),
        "effects": [{"term": e.term, "label": e.label, "time_ratio": e.time_ratio,
                     "ci_lower": e.ci_lower, "ci_upper": e.ci_upper, "n": e.n,
                     "events": e.events} for e in fit.effects],
        "dropped": [{"covariate": d.covariate, "reason": d.reason} for d in fit.dropped],
        "calibration_months": fit.calibration_months,
        "calibration": [{"group": g.group, "n": g.n, "predicted": g.predicted,
                         "observed": g.observed, "observed_ci_lower": g.observed_ci_lower,
                         "observed_ci_upper": g.observed_ci_upper,
                         "events_by_horizon": g.events_by_horizon,
                         "censored_before_horizon": g.censored_before_horizon}
                        for g in fit.calibration],
    }


def model_summaries(session: Session, family: str | None = None) -> list[dict[str, Any]]:
    """Every family's current model summary (or one family's), in vocabulary order."""
    return [model_summary(f, stored) for f, stored in fits_of_family(session, family)]
