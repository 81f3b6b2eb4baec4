"""Cohort outcomes: time to resolution (Kaplan–Meier) and best response (waterfall)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from sqlalchemy import func, select

from tracker.cohort import (
    STRATA,
    CohortFilter,
    curves_csv,
    figure_bytes,
    kaplan_meier,
    km_figure,
    subjects,
    waterfall_figure,
)
from tracker.models import Lesion
from tracker.vocabulary import Compartment, Entity, Region, Role
from web import charts
from web.auth import requires
from web.db import get_session

bp = Blueprint("cohort", __name__, url_prefix="/cohort")
CHOICES = {"entity": Entity, "region": Region, "compartment": Compartment}


def _args() -> tuple[CohortFilter, str | None]:
    """Filters and strata from the query string; an unknown code is a 400 naming the field."""
    values: dict[str, str | None] = {}
    for name, codes in CHOICES.items():
        value = request.args.get(name) or None
        if value is not None and value not in {c.value for c in codes}:
            abort(400, description=f"{name}: unknown code {value!r}")
        values[name] = value
    by = request.args.get("by") or None
    if by is not None and by not in STRATA:
        abort(400, description=f"by: choose one of {', '.join(STRATA)}")
    return CohortFilter(**values), by


def _data_stamp() -> tuple[Any, ...]:
    """Changes whenever any lesion is (re)assessed or added: the charts' cache key."""
    row = get_session().execute(select(func.count(Lesion.id), func.max(Lesion.assessed_at))).one()
    return tuple(row)


@bp.get("")
@requires(Role.CLINICIAN)
def index() -> str:
    flt, by = _args()
    items, skipped = subjects(get_session(), flt)
    curves = kaplan_meier(items, by) if items else []
    query = {k: v for k, v in request.args.items() if k in (*CHOICES, "by") and v}
    return render_template("cohort/index.html", curves=curves, n=len(items), skipped=skipped,
                           flt=flt, by=by, strata=STRATA, choices=CHOICES, query=query)


@bp.get("/km.<fmt>")
@requires(Role.CLINICIAN)
def km_chart(fmt: str) -> Any:
    flt, by = _args()
    session = get_session()
    return charts.serve(
        ("cohort-km", flt, by, _data_stamp()),
        lambda: figure_bytes(km_figure(subjects(session, flt)[0], by), fmt),
        fmt, "time-to-resolution", download=request.args.get("download") == "1",
    )


@bp.get("/waterfall.<fmt>")
@requires(Role.CLINICIAN)
def waterfall_chart(fmt: str) -> Any:
    flt, _ = _args()
    session = get_session()
    return charts.serve(
        ("cohort-waterfall", flt, _data_stamp()),
        lambda: figure_bytes(waterfall_figure(subjects(session, flt)[0]), fmt),
        fmt, "best-response", download=request.args.get("download") == "1",
    )


@bp.get("/km.csv")
@requires(Role.CLINICIAN)
def km_csv() -> Response:
    flt, by = _args()
    items, _ = subjects(get_session(), flt)
    body = curves_csv(kaplan_meier(items, by) if items else [])
    disposition = 'attachment; filename="time-to-resolution.csv"'
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": disposition})
