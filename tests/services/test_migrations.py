"""Alembic owns the schema: the models and the migrations must describe the same database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tracker import models  # noqa: F401
from tracker.db import Base, engine_for


def test_models_match_migrations(database_url: str) -> None:
    # database_url is already upgraded to head by the fixture
    with engine_for(database_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
