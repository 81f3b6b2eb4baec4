"""The web fixtures (app, login, queued) for the interoperability pages and API."""

from tests.web.conftest import app, login, queued

__all__ = ["app", "login", "queued"]
