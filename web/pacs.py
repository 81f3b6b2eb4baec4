"""The PACS link and the inbox in the app: their settings (from the environment, unless the
instance config or a test gives them), their pages and API, the inbox count in the header,
and the key image thumbnails, fetched from the PACS by the server (never by the browser).

`create_app` calls `init_app` once (and registers the blueprints of `web.views.inbox` and
`web.views.pacs`); without DICOMWEB_URL nothing here talks to a PACS, and the pages show no key
images."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app

from tracker.config import from_env
from tracker.interop.fhir import check_identifier_system
from tracker.pacs.client import PacsClient
from tracker.pacs.thumbnails import CACHE_FOLDER, Thumbnails
from tracker.queries.inbox import inbox_count
from tracker.vocabulary import Role
from web.auth import user
from web.db import get_session

# app.config keys, from the settings of the same name (tracker.config); the FHIR export's
# patient identifier system travels with them (the EHR side of the same integration)
SETTINGS = ("DICOMWEB_URL", "DICOMWEB_USERNAME", "DICOMWEB_PASSWORD", "DICOMWEB_TOKEN",
            "DICOMWEB_TIMEOUT_SECONDS", "PATIENT_IDENTIFIER_SYSTEM")
EXTENSION = "calcitrack.thumbnails"


def pacs_configured() -> bool:
    return bool(current_app.config.get("DICOMWEB_URL"))


def thumbnails() -> Thumbnails | None:
    """This app's key image thumbnails (one PACS client and cache folder per app), or None
    without a PACS."""
    if not pacs_configured():
        return None
    found: Thumbnails | None = current_app.extensions.get(EXTENSION)
    if found is None:
        config = current_app.config
        client = PacsClient(config["DICOMWEB_URL"], username=config["DICOMWEB_USERNAME"],
                            password=config["DICOMWEB_PASSWORD"], token=config["DICOMWEB_TOKEN"],
                            timeout_seconds=float(config["DICOMWEB_TIMEOUT_SECONDS"]))
        found = Thumbnails(client, Path(current_app.instance_path) / CACHE_FOLDER)
        current_app.extensions[EXTENSION] = found
    return found


def init_app(app: Flask) -> None:
    settings = from_env(instance_path=app.instance_path)
    for key in SETTINGS:
        app.config.setdefault(key, getattr(settings, key.lower()))
    check_identifier_system(app.config["PATIENT_IDENTIFIER_SYSTEM"])  # a wrong one: no start

    @app.context_processor
    def _inbox_count() -> dict[str, object]:
        """The header's inbox link and count, for those who can complete a report."""
        me = user()
        count = inbox_count(get_session()) if me is not None and me.can(Role.RADIOLOGIST) \
            else None
        return {"inbox_count": count, "pacs_configured": pacs_configured()}
