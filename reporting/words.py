"""How codes and lesions read for people, on the pages, in the charts and in the printable
report: one wording everywhere (no Flask here, so the report renders without the web app)."""

from __future__ import annotations

import re

from tracker.models import Lesion
from tracker.vocabulary import AlertKind, Stage, label

CODE = re.compile(r"[a-z][a-z0-9_]*")
SHORT_LABELS = {code.value for code in (*Stage, *AlertKind)}


def code_label(code: str | None) -> str:
    """A code as its vocabulary label, first letter capitalised."""
    text = label(code)
    return text[:1].upper() + text[1:] if text else ""


def evidence(text: str) -> str:
    """An evidence or suggestion token as people read it: codes become words
    (`ill_defined` -> `ill defined`, `region:shoulder` -> `shoulder`, `ho_early` -> `HO early`);
    sentences stay as they are."""
    key, sep, value = text.partition(":")
    if sep and " " not in key and value and " " not in value:
        text = value
    if not CODE.fullmatch(text):
        return text
    if text in SHORT_LABELS:
        words = label(text)
        return words if words[:2].isupper() else words[:1].lower() + words[1:]
    return text.replace("_", " ")


def lesion_caption(lesion: Lesion) -> str:
    """`L1 · R shoulder, supraspinatus`: a lesion named where it is."""
    side = {"right": "R", "left": "L", "midline": "mid"}.get(lesion.laterality, lesion.laterality)
    where = f"{side} {label(lesion.region).lower()}"
    if lesion.structure:
        where += f", {lesion.structure}"
    return f"{lesion.external_id} · {where}"
