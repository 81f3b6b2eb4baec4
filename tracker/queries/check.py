"""`tracker check`: every stored row judged by the rules an import applies (the same function,
`validate_patient`), so a row changed by hand in SQL is found before a backup of it fails to
import again. Read from one snapshot, a chunk of patients at a time (memory stays flat)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from tracker.errors import Problem
from tracker.export import EXPORT_CHUNK, patient_documents
from tracker.timeline.reader import validate_patient

_PATH = re.compile(r"patients\[(\d+)\](?:\.lesions\[(\d+)\](?:\.(observations|treatments)"
                   r"\[(\d+)\])?)?\.?(.*)")


def named_path(doc: dict[str, Any], path: str) -> str:
    """A problem's JSON path in one exported patient (`patients[0].lesions[1].observations[2]
    .size_mm`) as a person finds the row: `patient P-1 / lesion L2 / observation 2024-03-01:
    size_mm`."""
    match = _PATH.fullmatch(path)
    if match is None:
        return f"patient {doc.get('id')}: {path}"
    _, lesion, kind, part, rest = match.groups()
    named = f"patient {doc.get('id')}"
    if lesion is not None:
        le = doc["lesions"][int(lesion)]
        named += f" / lesion {le.get('id')}"
        if kind is not None:
            row = le[kind][int(part)]
            named += f" / {kind[:-1]} {row.get('date')}"
            if kind == "treatments":
                named += f" {row.get('kind')}"
    return f"{named}: {rest}" if rest else named


def stored_problems(session: Session, *, today: date, chunk: int = EXPORT_CHUNK
                    ) -> Iterator[Problem]:
    """Every problem of every stored patient, in patient id order, each named by its path
    (`named_path`)."""
    for doc in patient_documents(session, chunk=chunk):
        _, problems = validate_patient(doc, 0, today=today)
        for p in problems:
            yield Problem(named_path(doc, p.path), p.message)


def would_not_import(doc: dict[str, Any], *, today: date) -> bool:
    """Whether an exported patient would be refused by an import (the export's warning)."""
    return bool(validate_patient(doc, 0, today=today)[1])
