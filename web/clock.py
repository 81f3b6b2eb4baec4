"""Today's date as the web layer sees it; tests may pin it with the app config `TODAY`."""

from __future__ import annotations

from datetime import date

from flask import current_app


def today() -> date:
    pinned = current_app.config.get("TODAY")
    return pinned if isinstance(pinned, date) else date.today()
