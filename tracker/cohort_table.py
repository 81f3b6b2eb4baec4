"""`cohort_subjects`: each lesion's time to resolution, kept with its assessment.

One row per lesion whose stored assessment is current (`tracker.cohort.subject_rows` computes
it; `tracker.services.cohort_subjects` writes it in the assessment's transaction and removes it
in the transaction that marks the lesion for assessment). The cohort pages read grouped counts
from it instead of every observation, so their cost follows the number of distinct
(groups, days, outcome), not of lesions. Imports only the declarative base.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base


class CohortSubject(Base):
    """A lesion as survival data, with its groups at baseline and its best response."""

    __tablename__ = "cohort_subjects"

    lesion_id: Mapped[int] = mapped_column(
        ForeignKey("lesions.id", ondelete="CASCADE"), primary_key=True)
    baseline: Mapped[date] = mapped_column(Date)
    days: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[bool] = mapped_column(Boolean)
    entity: Mapped[str] = mapped_column(String(40))
    gartner: Mapped[str] = mapped_column(String(16))
    bosworth: Mapped[str] = mapped_column(String(16))
    region: Mapped[str] = mapped_column(String(20))
    compartment: Mapped[str] = mapped_column(String(16))
    best_change_pct: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_cohort_subjects_entity", "entity"),)


class CohortCount(Base):
    """How many stored subjects share these groups, days and outcome: what the curves read.

    Kept by deltas in the transactions that change `cohort_subjects`, so a page reads a few
    thousand rows instead of grouping a million (`n` = 0 rows are removed)."""

    __tablename__ = "cohort_counts"

    entity: Mapped[str] = mapped_column(String(40), primary_key=True)
    gartner: Mapped[str] = mapped_column(String(16), primary_key=True)
    bosworth: Mapped[str] = mapped_column(String(16), primary_key=True)
    region: Mapped[str] = mapped_column(String(20), primary_key=True)
    compartment: Mapped[str] = mapped_column(String(16), primary_key=True)
    days: Mapped[int] = mapped_column(Integer, primary_key=True)
    resolved: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class CohortResponseCount(Base):
    """How many stored subjects have this best % change (whole percent): the waterfall."""

    __tablename__ = "cohort_response_counts"

    entity: Mapped[str] = mapped_column(String(40), primary_key=True)
    region: Mapped[str] = mapped_column(String(20), primary_key=True)
    compartment: Mapped[str] = mapped_column(String(16), primary_key=True)
    pct: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
