"""Cohort outcomes: time to resolution (Kaplan–Meier) and best response (waterfall)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, render_template
from sqlalchemy import func, select

from tracker.cohort import (
    STRATA,
    CohortFilter,
    Subject,
    curves_csv,
    figure_bytes,
    kaplan_meier,
    km_figure,
    subjects,
    waterfall_figure,
)
from tracker.models import Lesion
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


def _args() -> tuple[CohortFilter, str | None, bool]:
    """Filters, strata and whether to download, from the query string."""
    query = query_args(CohortQuery)
    flt = CohortFilter(entity=query.entity, region=query.region, compartment=query.compartment)
    return flt, query.by.value if query.by else None, query.download


def _data_stamp() -> tuple[Any, ...]:
    """Changes whenever any lesion is (re)assessed or added: the charts' cache key."""
    row = get_session().execute(select(func.count(Lesion.id), func.max(Lesion.assessed_at))).one()
    return tuple(row)


@bp.get("")
@requires(Permission.READ)
def index() -> str:
    flt, by, _ = _args()
    items, skipped = subjects(get_session(), flt)
    curves = kaplan_meier(items, by) if items else []
    # the chart and table links carry the same (validated) filters and strata
    query = {k: v for k, v in {**dataclasses.asdict(flt), "by": by}.items() if v}
    return render_template("cohort/index.html", curves=curves, n=len(items), skipped=skipped,
                           flt=flt, by=by, strata=STRATA, choices=CHOICES, query=query,
                           prognosis_models=model_summaries(get_session()))


@bp.get("/km.<fmt>")
@requires(Permission.READ)
def km_chart(fmt: str) -> Any:
    flt, by, download = _args()
    return _figure(("cohort-km", flt, by), lambda items: km_figure(items, by), flt, fmt,
                   "time-to-resolution", download)


@bp.get("/waterfall.<fmt>")
@requires(Permission.READ)
def waterfall_chart(fmt: str) -> Any:
    flt, _, download = _args()
    return _figure(("cohort-waterfall", flt), waterfall_figure, flt, fmt, "best-response",
                   download)


def _figure(key: tuple[Any, ...], draw: Callable[[list[Subject]], Any], flt: CohortFilter,
            fmt: str, filename: str, download: bool) -> Any:
    """A cohort chart, cached until a lesion is (re)assessed or added."""
    session = get_session()
    return charts.serve(
        (*key, _data_stamp()),
        lambda: figure_bytes(draw(subjects(session, flt)[0]), fmt),
        fmt, filename, download=download,
    )


@bp.get("/km.csv")
@requires(Permission.READ)
def km_csv() -> Response:
    flt, by, _ = _args()
    items, _ = subjects(get_session(), flt)
    body = curves_csv(kaplan_meier(items, by) if items else [])
    disposition = 'attachment; filename="time-to-resolution.csv"'
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": disposition})
