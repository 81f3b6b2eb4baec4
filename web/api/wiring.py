"""The API in the app: every resource module's routes on the blueprint, what the OpenAPI
document needs beyond `@doc`, and Swagger UI served from the installed package (no CDN).

A new resource is one module of `web.api` adding its routes to `web.api.blueprint.bp`, listed
in `RESOURCES` below (importing it is what registers its routes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import swagger_ui_bundle
from apiflask import APIFlask
from flask import send_from_directory
from werkzeug.wrappers import Response

from web import schemas
from web.api import alerts, inbox, lesions, observations, patients, sr, timelines, treatments
from web.api.blueprint import bp
from web.auth import csrf

RESOURCES = (patients, lesions, observations, treatments, alerts, timelines, sr, inbox)
SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)


def _conditional_spec(spec: Any) -> Any:
    """What `@doc` cannot say: the If-Match header of the conditional writes and their 412
    body (the errors with the current value); the SR upload's multipart body."""
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    stale = schemas.StaleErrors.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in stale.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components.setdefault("StaleErrors", stale)
    for path, method in observations.CONDITIONAL_WRITES:
        op = spec.get("paths", {}).get(path, {}).get(method)
        if op is None:
            continue
        op.setdefault("parameters", []).append(observations.IF_MATCH)
        op["responses"]["412"]["content"] = {
            "application/json": {"schema": {"$ref": "#/components/schemas/StaleErrors"}}}
    site = spec.get("paths", {}).get("/api/v1/lesions/{lesion_id}", {}).get("patch")
    if site is not None:  # version-checked by its body: 412 the same shape, without If-Match
        site["responses"]["412"]["content"] = {
            "application/json": {"schema": {"$ref": "#/components/schemas/StaleErrors"}}}
    upload = spec.get("paths", {}).get("/api/v1/sr", {}).get("post")
    if upload is not None:
        upload["requestBody"] = sr.SR_UPLOAD
    return spec


def init_app(app: APIFlask) -> None:
    csrf.exempt(bp)  # checked by the blueprint's CSRF rule unless a bearer token is used
    app.config["SWAGGER_UI_CONFIG"] = {"validatorUrl": None, "tryItOutEnabled": False}
    app.register_blueprint(bp)
    app.spec_processor(_conditional_spec)

    @app.get("/api/v1/docs/assets/<path:filename>")
    @app.doc(hide=True)
    def swagger_assets(filename: str) -> Response:
        """Swagger UI from the installed swagger-ui-bundle package (works offline)."""
        return send_from_directory(SWAGGER_DIR, filename, max_age=86400)
