"""The site correction page of a lesion (radiologists): its routes join the lesion blueprint.

Kept apart from `web.views.lesions` (the lesion page and its record forms) so that each stays
readable; merge and split are there, the site is here."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from werkzeug.wrappers import Response

from reporting.words import lesion_caption
from tracker.errors import InvalidInput, Problem, StaleVersion
from tracker.models import Lesion
from tracker.queries.lookup import load_lesion
from tracker.services import identity
from tracker.services.users import Permission
from tracker.timeline.site import SITE_FIELDS
from web.auth import actor, requires
from web.db import get_session
from web.forms import SITE_CHOICES, field_errors
from web.views.lesions import back_to_lesion, bp

SITE_FORM_FIELDS = (*SITE_FIELDS, "reason", "version")


def site_values(lesion: Lesion) -> dict[str, Any]:
    return {k: getattr(lesion, k) for k in SITE_FIELDS}


def _page(lesion: Lesion, values: dict[str, Any], errors: dict[str, list[str]],
          version: int) -> str:
    return render_template("lesions/site.html", lesion=lesion, caption=lesion_caption(lesion),
                           values=values, errors=errors, choices=SITE_CHOICES, version=version)


@bp.route("/lesions/<int:lesion_id>/site", methods=["GET", "POST"])
@requires(Permission.IDENTITY)
def correct_site(lesion_id: int) -> str | Response | tuple[str, int]:
    """Correct where a lesion is; its id, observations and treatments stay."""
    session = get_session()
    lesion = load_lesion(session, lesion_id)
    if request.method != "POST":
        return _page(lesion, site_values(lesion), {}, lesion.data_version)
    values = {k: request.form.get(k, "") for k in (*SITE_FIELDS, "reason")}
    raw_version = request.form.get("version", "")
    try:
        if not (raw_version.isascii() and raw_version.isdigit() and len(raw_version) < 10):
            raise InvalidInput([Problem("_form", "the form lost its version; reload the page")])
        identity.correct_site(session, lesion_id, values, actor=actor(),
                              reason=values["reason"], expected_version=int(raw_version))
    except InvalidInput as exc:
        return _page(lesion, values, field_errors(exc.problems, SITE_FORM_FIELDS),
                     lesion.data_version), 400
    except StaleVersion as exc:
        session.rollback()
        fresh = load_lesion(session, lesion_id)
        message = f"{exc}. The form now shows the stored site; correct it again if it holds."
        return _page(fresh, site_values(fresh), {"_form": [message]}, fresh.data_version), 409
    return back_to_lesion(lesion_id, "Site corrected; stages and suggestions pending until "
                          "re-assessed.", anchor=None)
