"""What a converter hands to the import: a lesion-timeline/1 document and the origin (file and
group, or CSV line) of each observation, so that every later problem names where it came from."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Converted:
    """The timeline a batch becomes, and where each observation came from."""

    document: dict[str, Any]
    origins: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

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
