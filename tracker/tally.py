"""Counts that a run adds up part by part and then prints (an import, a PACS sync, an alert
scan): one rule for counting a part in and for saying the counts."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self

from tracker.queries.columns import json_value


@dataclass
class Tally:
    """A dataclass of counts (numbers, lists of ids); `UNSAID` fields are for the caller only."""

    UNSAID: ClassVar[frozenset[str]] = frozenset()

    def as_dict(self) -> dict[str, Any]:
        """The counts in field order as JSON values (a date in ISO 8601, a list copied)."""
        return {f.name: _said(getattr(self, f.name)) for f in fields(self)
                if f.name not in self.UNSAID}

    def add(self, part: Self) -> None:
        """Count another part in: numbers summed, lists joined; anything else (a start date)
        stays this tally's own."""
        for f in fields(self):
            mine = getattr(self, f.name)
            if isinstance(mine, int | list):
                setattr(self, f.name, mine + getattr(part, f.name))


def _said(value: Any) -> Any:
    return list(value) if isinstance(value, list) else json_value(value)
