"""What a converter hands to the import: a lesion-timeline/1 document, the origin (file and
group, or CSV line) of each observation, so that every later problem names where it came from,
and, for a measurement report, the images each observation was measured on."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class KeyImageRef:
    """An image a measurement was made on, and the mark drawn on it: SCOORD graphic type and
    (column, row) points in the image's pixels, or none when the report names the image only.
    `frame` is 0 for a single-frame image."""

    study_uid: str
    series_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    frame: int = 0
    graphic_type: str | None = None
    points: tuple[tuple[float, float], ...] = ()
    measured_mm: float | None = None


@dataclass
class Converted:
    """The timeline a batch becomes, and where each observation came from."""

    document: dict[str, Any]
    origins: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    # (patient, lesion, date) -> the key images of that observation (SR only)
    key_images: dict[tuple[str, str, str], list[KeyImageRef]] = field(default_factory=dict)
    # (patient, lesion) -> what the report calls that lesion (its tracking UID or identifier)
    subjects: dict[tuple[str, str], str] = field(default_factory=dict)

    def origin_of_path(self, path: str) -> str | None:
        """`patients[0].lesions[1]...` -> the files and groups it was read from."""
        m = re.match(r"patients\[(\d+)\](?:\.lesions\[(\d+)\](?:\.observations\[(\d+)\])?)?",
                     path)
        if m is None:
            return None
        patient = self.document["patients"][int(m.group(1))]
        if m.group(2) is None:
            keys = [k for k in self.origins if k[0] == patient["id"]]
        else:
            lesion = patient["lesions"][int(m.group(2))]
            if m.group(3) is None:
                keys = [k for k in self.origins if k[:2] == (patient["id"], lesion["id"])]
            else:
                day = lesion["observations"][int(m.group(3))]["date"]
                keys = [(patient["id"], lesion["id"], day)]
        found = sorted({o for k in keys for o in self.origins.get(k, [])})
        return ", ".join(found) or None
