"""APIFlask's `@input` with the product's rules: a request body or query string is validated by
its pydantic model, as the framework does, but read and reported the way `tracker import` does.

- A JSON body is decoded by `tracker.timeline.reader.parse_json` (size limit, nesting depth, NUL
  characters, numbers no field can hold), never by a second JSON reader.
- A timeline or an observation goes through its full validation (cross-field rules and today's
  date included), so every problem is reported at once; any other model through
  `validate_model`, with the same paths and messages.
- A problem raises `InvalidInput`, which `web/errors.py` answers with 400 and
  `{"errors": [{"path", "message"}]}`: the same shape the OpenAPI document declares.

`install()` puts the adapter in place of APIFlask's pydantic one; web/api/blueprint.py calls it
before its first `@bp.input`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from apiflask.schema_adapters import registry
from apiflask.schema_adapters.pydantic import PydanticAdapter
from flask import Request, current_app, request
from pydantic import BaseModel

from tracker.errors import InvalidInput, Problem
from tracker.timeline.models import ObservationIn, Timeline, TreatmentIn
from tracker.timeline.reader import (
    parse_json,
    validate_model,
    validate_observation,
    validate_treatment,
)
from tracker.timeline.stream import stream_timeline
from web.clock import today

Q = TypeVar("Q", bound=BaseModel)

# Models whose validation needs more than the model: the format's cross-field rules and today.
FULL_VALIDATION: dict[type[BaseModel], Callable[[Any], BaseModel]] = {
    ObservationIn: lambda raw: validate_observation(raw, today=today()),
    TreatmentIn: lambda raw: validate_treatment(raw, today=today()),
}


def json_body(request: Request) -> Any:
    """The request body as JSON, read within the import size limit."""
    return parse_json(request.get_data(), max_bytes=int(current_app.config["MAX_TIMELINE_BYTES"]),
                      what="request body")


def query_args(model: type[Q], *, form: bool = True) -> Q:
    """The query string, validated by `model`: the one reader of query arguments, for the pages
    and (through the adapter below, `form=False`) the API; a bad argument is `InvalidInput`
    naming it, a 400 page or body. A page's filter form sends its empty fields: absent, not
    values. The API's arguments are as its OpenAPI document declares them: `?kind=` is no
    alert kind."""
    repeated = [k for k in request.args if len(request.args.getlist(k)) > 1]
    if repeated:
        raise InvalidInput([Problem(k, "given more than once") for k in repeated])
    raw = request.args.to_dict()
    if form:
        raw = {k: v for k, v in raw.items() if v != ""}
    return validate_model(model, raw)


class ProductRulesAdapter(PydanticAdapter):
    """APIFlask's pydantic adapter (OpenAPI schemas, output serialisation) with our input
    validation."""

    def validate_input(self, request: Request, location: str, **kwargs: Any) -> BaseModel:
        model: type[BaseModel] = self.model_class
        if location == "json" and model is Timeline:
            # A timeline may be large: read patient by patient (`tracker import`'s reader);
            # the view imports the stream, validated as it goes, all or nothing.
            limit = int(current_app.config["MAX_TIMELINE_BYTES"])
            return stream_timeline(request.get_data(), today=today(),  # type: ignore[return-value]
                                   max_bytes=limit)
        if location == "json":
            raw = json_body(request)
            full = FULL_VALIDATION.get(model)
            return full(raw) if full is not None else validate_model(model, raw)
        if location in ("query", "querystring"):
            return query_args(model, form=False)
        raise ValueError(f"no validation for request {location}")


def install() -> None:
    """Make every `@input` with a pydantic model use the adapter above (idempotent)."""
    registry.register("pydantic", ProductRulesAdapter)
