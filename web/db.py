"""One SQLAlchemy session per request, opened lazily on `g` and closed at teardown.

Closing rolls back anything a service did not commit, so a failed request leaves nothing behind.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from tracker.db import session_factory


def get_session() -> Session:
    if "db_session" not in g:
        g.db_session = session_factory(current_app.config["DATABASE_URL"])()
    session: Session = g.db_session
    return session


def close_session(_exc: BaseException | None = None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_session)
