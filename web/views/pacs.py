"""The PACS status page (admins), and the key image thumbnails of a lesion's visits: fetched
from the PACS by the server, cached, with the measurement drawn over them; shown to whoever may
see the lesion, and only through it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Response, current_app, render_template, url_for

from tracker.interop.viewer import images_url
from tracker.models import Observation
from tracker.pacs.client import PacsRefused, PacsUnavailable
from tracker.queries.key_images import lesion_key_image, visit_key_images
from tracker.queries.pacs_status import pacs_status
from tracker.services.users import Permission
from web.auth import requires
from web.db import get_session
from web.pacs import pacs_configured, thumbnails

bp = Blueprint("pacs", __name__)
UNAVAILABLE = "image unavailable"


@bp.get("/admin/pacs")
@requires(Permission.OPERATE)
def status() -> str:
    return render_template("admin/pacs.html", status=pacs_status(get_session()),
                           configured=pacs_configured())


@bp.get("/lesions/<int:lesion_id>/key-images/<int:key_image_id>.png")
@requires(Permission.READ)
def key_image(lesion_id: int, key_image_id: int) -> Response:
    """The thumbnail with its mark; 404 without a PACS or for an image the PACS does not
    have, 503 while the PACS cannot be reached (the page then says "image unavailable")."""
    source = thumbnails()
    image = lesion_key_image(get_session(), lesion_id, key_image_id)
    if source is None:
        return Response("no PACS is configured", 404, mimetype="text/plain")
    try:
        png = source.png(image)
    except PacsUnavailable:
        return Response(UNAVAILABLE, 503, mimetype="text/plain", headers={"Retry-After": "60"})
    except PacsRefused:
        return Response(UNAVAILABLE, 404, mimetype="text/plain")
    # patient data: the browser may keep it for the session, shared caches never
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=3600"})


def key_images_for(observations: Sequence[Observation]) -> list[dict[str, Any]]:
    """Per visit with a key image, what the lesion and compare pages show of it (nothing
    without a PACS)."""
    if not pacs_configured():
        return []
    found = visit_key_images(get_session(), [o.id for o in observations])
    template = current_app.config.get("VIEWER_URL_TEMPLATE")
    out = []
    for obs in observations:
        image = found.get(obs.id)
        if image is None:
            continue
        size = f", measured {image.measured_mm:g} mm" if image.measured_mm else ""
        mark = f", {image.graphic_type.lower()} drawn" if image.graphic_type else ""
        out.append({
            "obs": obs, "image": image,
            "src": url_for("pacs.key_image", lesion_id=obs.lesion_id, key_image_id=image.id),
            "viewer": images_url(template, image.study_uid,
                                 obs.accession if obs.study_uid == image.study_uid else None),
            "alt": f"Key image of {obs.date.isoformat()} ({obs.modality}{size}{mark})",
        })
    return out
