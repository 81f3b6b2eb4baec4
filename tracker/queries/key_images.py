"""Key images: the image each visit was measured on (from its measurement reports), for the
lesion, compare and report pages. Read only."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.errors import NotFound
from tracker.models import Observation
from tracker.pacs.models import KeyImage


def visit_key_images(session: Session, observation_ids: Iterable[int]) -> dict[int, KeyImage]:
    """Per observation, the one key image a page shows: one with the measurement's mark
    before one without, the latest report's first (one statement)."""
    ids = sorted(set(observation_ids))
    if not ids:
        return {}
    out: dict[int, KeyImage] = {}
    rows = session.scalars(select(KeyImage).where(KeyImage.observation_id.in_(ids)).order_by(
        KeyImage.observation_id, KeyImage.graphic_type.is_(None), KeyImage.report_id.desc(),
        KeyImage.id))
    for row in rows:
        out.setdefault(row.observation_id, row)
    return out


def lesion_key_image(session: Session, lesion_id: int, key_image_id: int) -> KeyImage:
    """A key image of one of the lesion's observations; NotFound otherwise (a key image is
    shown only through the lesion it belongs to)."""
    row = session.scalar(select(KeyImage).join(Observation, Observation.id ==
                                               KeyImage.observation_id)
                         .where(KeyImage.id == key_image_id, Observation.lesion_id == lesion_id))
    if row is None:
        raise NotFound(f"lesion {lesion_id} has no key image {key_image_id}")
    return row
