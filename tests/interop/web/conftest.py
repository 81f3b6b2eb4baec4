"""The web fixtures (app, login, queued, api) for the interoperability pages and API."""

from tests.web.conftest import api, app, database_url, login, queued

__all__ = ["api", "app", "database_url", "login", "queued"]
