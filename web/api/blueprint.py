"""`/api/v1`: the JSON API for machine clients (bearer token) and the browser (session + CSRF).

The blueprint every resource module of `web.api` adds its routes to, and what they share: the
OpenAPI security and common responses, the CSRF rule for browser sessions, a lesion's answer
with its viewer links. Request bodies are validated by the same code as the forms and `tracker
import`; errors answer 400/404/409 with `{"errors": [{"path", "message"}]}`. `web.api.wiring`
puts the routes, the OpenAPI document's additions and Swagger UI into the app.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from apiflask import APIBlueprint
from flask import abort, current_app, request
from sqlalchemy import select

from tracker.errors import NotFound
from tracker.interop.viewer import images_url
from tracker.models import Lesion, Observation, Treatment
from tracker.queries.lesion import lesion_with_everything
from tracker.queries.paging import Page
from tracker.queries.show import lesion_json
from tracker.services.users import Permission
from tracker.timeline.models import ObservationIn, TreatmentIn
from tracker.timeline.problems import check_dates
from tracker.vocabulary import Role
from web import validation
from web.auth import csrf, requires, user
from web.db import get_session
from web.schemas import Query

validation.install()  # before any @bp.input: how APIFlask validates request input

bp = APIBlueprint("api", __name__, url_prefix="/api/v1", tag="calcitrack")

# Every operation needs a user (bearer token, or a signed-in session with the CSRF header):
# APIFlask adds the 401 response for an operation with `security`.
SECURITY = "bearerAuth"
FORBIDDEN: Any = {403: "Your role does not allow this"}
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def doc(tag: str, summary: str, description: str | None = None,
        responses: dict[int, Any] | None = None) -> Callable[[F], F]:
    """An operation's OpenAPI entry: every one needs a user, and a role may forbid it."""
    documented: Callable[[F], F] = bp.doc(
        tags=[tag], summary=summary, description=description, security=SECURITY,
        responses={**FORBIDDEN, **(responses or {})})
    return documented


def operation(method: str, rule: str, permission: Role | Permission, tag: str, summary: str,
              description: str | None = None, responses: dict[int, Any] | None = None, *,
              entry: str | None = None, takes: Any = None, arg: str | None = None,
              location: str = "json", gives: Any = None, status: int = 200,
              headers: Any = None) -> Callable[[F], F]:
    """An operation's whole declaration in one place: its route, who may call it (`requires`,
    checked before the input is read), what it takes (`takes` at `location`, passed as `arg`)
    and gives (`gives` with `status`, `headers`), and its OpenAPI entry (`doc`)."""

    def declare(view: F) -> F:
        own = view if location == "query" else _without_query_arguments(view)
        declared: Any = doc(tag, summary, description, responses)(own)
        if gives is not None:
            declared = bp.output(gives, status_code=status, headers=headers)(declared)
        if takes is not None:
            declared = bp.input(takes, location=location, arg_name=arg)(declared)
        declared = requires(permission, entry=entry)(declared)
        routed: F = bp.route(rule, methods=[method.upper()])(declared)
        return routed

    return declare


def _without_query_arguments(view: F) -> F:
    """An operation that takes no query argument refuses any, as one that takes some refuses
    an unknown one: a mistyped filter must not quietly answer with everything (`GET
    /timelines?patient=X` would be every patient's record)."""

    @wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if request.args:
            validation.query_args(Query, form=False)
        return view(*args, **kwargs)

    return cast(F, checked)


@bp.before_request
def _csrf_for_browser_sessions() -> None:
    """A bearer token cannot be sent cross-site by a browser; a session cookie can, so a
    cookie-authenticated change must carry the CSRF token (header X-CSRFToken)."""
    u = user()
    if u is None:
        abort(401)  # every route needs a user; say so before asking for a CSRF token
    if request.method not in ("GET", "HEAD", "OPTIONS") and not u.via_token:
        csrf.protect()


def with_images(observations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add `images_url` (the viewer link) where VIEWER_URL_TEMPLATE is set and a study known."""
    template = current_app.config.get("VIEWER_URL_TEMPLATE")
    for obs in observations:
        url = images_url(template, obs.get("study_uid"), obs.get("accession"))
        if url:
            obs["images_url"] = url
    return observations


def page_json(page: Page[T], item: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """One page of a list, with what it was cut from."""
    return {"items": [item(i) for i in page.items], "total": page.total, "page": page.page,
            "per_page": page.per_page}


def keyset_page_json(page: Page[T], item: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """One page of a keyset list: `next` is the `after` of the page that follows (null on the
    last)."""
    return {**page_json(page, item), "next": page.next_after}


def stored_lesion(lesion_id: int) -> dict[str, Any]:
    """A lesion as stored now, after a service changed it: the service's session still holds
    the lesion as it loaded it."""
    session = get_session()
    session.expire_all()
    return lesion_json(lesion_with_everything(session, lesion_id))


def stored_part(kind: str, model: type[Observation] | type[Treatment], part_id: int
                ) -> dict[str, Any]:
    """One observation or treatment (`kind`) as stored now, described with its lesion: read
    from the lesion that holds it at the time of reading, looked up again if a split or merge
    moves it between the lookup and the read."""
    session = get_session()
    for _ in range(3):
        session.expire_all()
        lesion_id = session.scalar(select(model.lesion_id).where(model.id == part_id))
        if lesion_id is None:
            break
        try:
            found: list[dict[str, Any]] = [
                p for p in stored_lesion(lesion_id)[kind] if p["id"] == part_id]
        except NotFound:  # its lesion merged away since: look it up again
            continue
        if found:
            return found[0]
    raise NotFound(f"{kind[:-1]} {part_id} does not exist")


def check_against(lesion: Lesion, part: ObservationIn | TreatmentIn) -> None:
    """A posted observation's or treatment's date against its patient and lesion."""
    check_dates(part, birth_year=lesion.patient.birth_year, event_date=lesion.event_date)
