"""The prognosis figures of the cohort page (forest plot, calibration): routes joining the
cohort blueprint, drawn from the family's latest stored fit and cached by its version."""

from __future__ import annotations

from typing import Any

from flask import abort

from tracker.cohort_figures import figure_bytes
from tracker.prognosis.figures import calibration_figure, forest_figure
from tracker.queries.prognosis import latest_fits
from tracker.services.users import Permission
from tracker.vocabulary import Family
from web import charts
from web.auth import requires
from web.db import get_session
from web.views.cohort import bp

DRAW = {"forest": forest_figure, "calibration": calibration_figure}


@bp.get("/prognosis/<family>/<figure>.<fmt>")
@requires(Permission.READ)
def prognosis_chart(family: str, figure: str, fmt: str) -> Any:
    if family not in {f.value for f in Family} or figure not in DRAW:
        abort(404)
    stored = latest_fits(get_session()).get(family)
    if stored is None or not stored.fit.effects:
        abort(404)
    fit = stored.fit
    return charts.serve(("prognosis", family, figure, stored.version),
                        lambda: figure_bytes(DRAW[figure](fit), fmt), fmt,
                        f"prognosis-{family}-{figure}", download=False)
