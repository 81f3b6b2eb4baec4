"""The web fixtures (app, db, login, queued) for the interoperability pages and API."""

from tests.web.conftest import app, db, login, queued

__all__ = ["app", "db", "login", "queued"]
