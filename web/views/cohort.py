"""Cohort outcomes: time to resolution (Kaplan–Meier) and best response (waterfall).

Every request reads the stored subjects grouped (`tracker.cohort.tallies`, one statement whose
size follows the distinct groups, not the lesions); the curves and charts are cached under a
digest of those groups, so a request after a change computes them once and an unchanged cohort
never refits or redraws.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from flask import Blueprint, Response, render_template

from tracker.cohort import (
    BY_CHOICES,
    DEFAULT_BY,
    MIN_AT_RISK_DRAWN,
    MIN_EVENTS,
    MIN_LESIONS,
    NO_SPLIT,
    CohortFilter,
    Curve,
    Tally,
    curves_csv,
    kaplan_meier,
    response_bins,
    tallies,
)
from tracker.cohort_figures import figure_bytes, km_figure, waterfall_figure
from tracker.queries.prognosis import model_summaries
from tracker.services.users import Permission
from tracker.vocabulary import Compartment, Entity, Region
from web import charts
from web.auth import requires
from web.db import get_session
from web.schemas import CohortQuery
from web.validation import query_args

bp = Blueprint("cohort", __name__, url_prefix="/cohort")
CHOICES = {"entity": Entity, "region": Region, "compartment": Compartment}


def _args() -> tuple[CohortFilter, str, bool]:
    """Filters, strata (by entity family unless asked) and whether to download."""
    query = query_args(CohortQuery)
    flt = CohortFilter(entity=query.entity, region=query.region, compartment=query.compartment)
    return flt, query.by.value if query.by else DEFAULT_BY, query.download


def _digest(data: Any) -> str:
    """What a cached curve or chart depends on: the grouped rows themselves."""
    return hashlib.sha256(repr(data).encode()).hexdigest()


@lru_cache(maxsize=64)
def _curves(items: tuple[Tally, ...], by: str) -> tuple[Curve, ...]:
    return tuple(kaplan_meier(items, by))


@bp.get("")
@requires(Permission.READ)
def index() -> str:
    flt, by, _ = _args()
    items, skipped = tallies(get_session(), flt)
    curves = _curves(tuple(items), by) if items else ()
    # the chart and table links carry the same (validated) filters and strata
    query = {k: v for k, v in {**dataclasses.asdict(flt), "by": by}.items() if v}
    return render_template("cohort/index.html", curves=curves, n=sum(t.n for t in items),
                           skipped=skipped, flt=flt, by=by, no_split=NO_SPLIT,
                           strata=BY_CHOICES, choices=CHOICES, min_lesions=MIN_LESIONS,
                           min_events=MIN_EVENTS, min_at_risk=MIN_AT_RISK_DRAWN, query=query,
                           prognosis_models=model_summaries(get_session()))


@bp.get("/km.<fmt>")
@requires(Permission.READ)
def km_chart(fmt: str) -> Any:
    flt, by, download = _args()
    items = tallies(get_session(), flt)[0]
    return _figure(("cohort-km", by, _digest(items)), lambda: km_figure(items, by), fmt,
                   "time-to-resolution", download)


@bp.get("/waterfall.<fmt>")
@requires(Permission.READ)
def waterfall_chart(fmt: str) -> Any:
    flt, _, download = _args()
    bins = response_bins(get_session(), flt)
    return _figure(("cohort-waterfall", _digest(bins)), lambda: waterfall_figure(bins), fmt,
                   "best-response", download)


def _figure(key: tuple[Any, ...], draw: Callable[[], Any], fmt: str, filename: str,
            download: bool) -> Any:
    """A cohort chart, cached until the grouped rows it is drawn from change."""
    return charts.serve(key, lambda: figure_bytes(draw(), fmt), fmt, filename,
                        download=download)


@bp.get("/km.csv")
@requires(Permission.READ)
def km_csv() -> Response:
    flt, by, _ = _args()
    items, _ = tallies(get_session(), flt)
    body = curves_csv(_curves(tuple(items), by) if items else ())
    disposition = 'attachment; filename="time-to-resolution.csv"'
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": disposition})
