"""The key images of a measurement group: every image its marks (SCOORD) are drawn on, with
the mark's graphic type and (column, row) points, then the images it names without a mark
(source images, image library references). Only images the report's evidence lists are kept:
the evidence gives the series, without which WADO-RS cannot fetch an image. No database."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydicom.multival import MultiValue

from tracker.interop.converted import KeyImageRef

MAX_MARK_POINTS = 1000  # a mark's (column, row) points kept; a freehand outline is longer


def _frame(ref: Any) -> int:
    """The first referenced frame number, 0 for a single-frame image."""
    value = ref.get("ReferencedFrameNumber")
    first = value[0] if isinstance(value, MultiValue) and len(value) else value
    try:
        return max(0, int(first))
    except (TypeError, ValueError):
        return 0


def key_images(evidence: Mapping[str, tuple[str, str, str]], group: Any,
               size_mm: float | None) -> list[KeyImageRef]:
    """The images the group's marks (SCOORD) are drawn on, with the mark; then the images it
    names (source images, image library references) without one. An image the report's
    evidence does not list cannot be fetched (no series) and is left out."""
    found: list[KeyImageRef] = []

    def ref_of(ref: Any, graphic_type: str | None = None,
               points: tuple[tuple[float, float], ...] = ()) -> None:
        uid = str(ref.get("ReferencedSOPInstanceUID", "") or "")
        if uid in evidence:
            study, series, sop_class = evidence[uid]
            found.append(KeyImageRef(study, series, uid, sop_class, _frame(ref), graphic_type,
                                     points, size_mm))

    def walk(items: Iterable[Any]) -> None:
        for item in items:
            children = list(item.get("ContentSequence") or [])
            if item.get("ValueType") == "SCOORD":
                flat = [float(v) for v in (item.get("GraphicData") or [])][:2 * MAX_MARK_POINTS]
                points = tuple(zip(flat[0::2], flat[1::2], strict=False))
                kind = str(item.get("GraphicType", "") or "") or None
                for child in children:  # the image the mark is drawn on
                    for ref in child.get("ReferencedSOPSequence") or []:
                        ref_of(ref, kind, points)
                continue
            for ref in item.get("ReferencedSOPSequence") or []:
                ref_of(ref)
            walk(children)

    walk(group)
    marked = {(k.sop_instance_uid, k.frame) for k in found if k.graphic_type}
    out: list[KeyImageRef] = []
    for image in found:  # a mark wins over the same image named without one
        if image.graphic_type is None and (image.sop_instance_uid, image.frame) in marked:
            continue
        if image not in out:
            out.append(image)
    return out
