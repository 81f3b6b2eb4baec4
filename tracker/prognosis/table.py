"""The stored fits: one row per family and version, the whole fit as `fit_to_json` gives it.

Only SQLAlchemy and `tracker.db` (like `tracker.pacs.models`): `tracker.models` imports this
module so the table is on `Base.metadata`. A row is never changed: a refit that finds something
new stores the next version; pages and predictions read the family's latest one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import NEVER_REUSED_IDS, Base


class PrognosisFit(Base):
    """One family's fit. `version` counts up per family; `digest` is a hash of the fit
    without its date, so a refit on unchanged data is recognised and stores nothing."""

    __tablename__ = "prognosis_fits"

    id: Mapped[int] = mapped_column(primary_key=True)
    family: Mapped[str] = mapped_column(String(10))
    version: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64))
    fitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    engine_version: Mapped[str] = mapped_column(String(32))
    rules_revision: Mapped[int] = mapped_column(SmallInteger)
    usable: Mapped[bool] = mapped_column(Boolean)
    n: Mapped[int] = mapped_column(Integer)
    events: Mapped[int] = mapped_column(Integer)
    fit: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("family", "version"), NEVER_REUSED_IDS)
