"""Every shared vignette set (`shared/vignettes/*.expected.json`) run through the engine directly.

Mirrors `check.py`: the timeline is cut to observations and treatments dated on or before each
check's `as_of`, and the uncut timeline must give the same assessment (§0); the whole document,
listed in any order, gives the same bytes.
"""

from __future__ import annotations

import copy
import json
import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tracker.engine import assessment_to_json, infer
from tracker.facts import infer_timeline
from tracker.timeline.reader import validate_timeline

from .timeline_facts import lesion_facts, lesions_of

SHARED = Path(__file__).resolve().parents[3] / "shared"
VIGNETTES = SHARED / "vignettes"


def _expected_files() -> list[Path]:
    return sorted(VIGNETTES.glob("*.expected.json")) if VIGNETTES.is_dir() else []


def _cases() -> list[Any]:
    cases = []
    for path in _expected_files():
        expected = json.loads(path.read_text())
        for check in expected["checks"]:
            for key, want in check["lesions"].items():
                cases.append(
                    pytest.param(
                        path,
                        expected["timeline"],
                        check["as_of"],
                        key,
                        want,
                        id=f"{path.name.split('.')[0]}:{key}@{check['as_of']}",
                    )
                )
    return cases


def _assessment(timeline: dict[str, Any], key: str, as_of: str, cut: bool = True) -> dict[str, Any]:
    lesion = dict(lesions_of(timeline))[key]
    day = date.fromisoformat(as_of)
    return assessment_to_json(infer(lesion_facts(lesion, day if cut else None), day))


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same JSON types (-100 is not -100.0), as check.py compares."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


requires_shared = pytest.mark.skipif(
    not _expected_files(), reason=f"no vignettes at {VIGNETTES} (shared folder missing)"
)


@requires_shared
@pytest.mark.parametrize(("path", "timeline_name", "as_of", "key", "want"), _cases())
def test_vignette(
    path: Path, timeline_name: str, as_of: str, key: str, want: dict[str, Any]
) -> None:
    timeline = json.loads((path.parent / timeline_name).read_text())
    got = _assessment(timeline, key, as_of)
    assert json.dumps(got) == json.dumps(_assessment(timeline, key, as_of, cut=False))
    alerts = {a["kind"]: a for a in got["alerts"]}
    if "stages" in want:
        assert len(got["stages"]) == len(want["stages"])
        for i, (s, ok) in enumerate(zip(got["stages"], want["stages"], strict=True)):
            assert s["stage"] in ok, f"observation {i}: {s['stage']} not in {ok}"
    for kind in want.get("alerts_required", []):
        assert kind in alerts, f"{kind} missing; open: {sorted(alerts)}"
    for kind in want.get("alerts_forbidden", []):
        assert kind not in alerts, f"{kind} must not be open"
    for kind, severity in want.get("severity", {}).items():
        assert alerts[kind]["severity"] == severity
    pairs = [(t["from"], t["to"]) for t in got["transitions"]]
    for a, b in want.get("transitions_include", []):
        assert (a, b) in pairs
    if "top_suggestion" in want:
        assert got["suggested_entities"][0]["entity"] == want["top_suggestion"]
    if "next_follow_up" in want:
        assert got["next_follow_up"] == want["next_follow_up"]
    if "entity_source" in want:
        assert got["entity_source"] == want["entity_source"]
    for kind, since in want.get("since", {}).items():
        assert alerts[kind]["since"] == since
    for kind, reason in want.get("reason", {}).items():
        assert alerts[kind]["reason"] == reason
    for name in ("confidence", "response"):
        if name in want:
            values = [s[name] for s in got["stages"]]
            assert _same(values, want[name]), f"{name}: {values} != {want[name]}"
    for i, text in want.get("evidence_includes", []):
        assert text in got["stages"][i]["evidence"]


@requires_shared
@pytest.mark.parametrize("path", _expected_files(), ids=lambda p: p.name)
def test_vignette_confidence_orderings(path: Path) -> None:
    expected = json.loads(path.read_text())
    timeline = json.loads((path.parent / expected["timeline"]).read_text())
    for check in expected["checks"]:
        if "conf_lower" not in check:
            continue
        (low_key, i), (high_key, j) = check["conf_lower"]
        low = _assessment(timeline, low_key, check["as_of"])["stages"][i]["confidence"]
        high = _assessment(timeline, high_key, check["as_of"])["stages"][j]["confidence"]
        assert low < high


def _reordered(doc: dict[str, Any], rnd: random.Random | None) -> dict[str, Any]:
    """Patients, lesions, observations, treatments and features reversed (None) or shuffled."""
    out = copy.deepcopy(doc)

    def reorder(items: list[Any]) -> None:
        if rnd is None:
            items.reverse()
        else:
            rnd.shuffle(items)

    reorder(out["patients"])
    for patient in out["patients"]:
        reorder(patient["lesions"])
        for lesion in patient["lesions"]:
            for key in ("observations", "treatments"):
                reorder(lesion.get(key, []))
            for observation in lesion["observations"]:
                reorder(observation.get("features", []))
    return out


@requires_shared
@pytest.mark.parametrize("path", _expected_files(), ids=lambda p: p.name)
def test_the_document_in_any_order_gives_the_same_bytes(path: Path) -> None:
    """What `tracker infer` prints, on every check date, whatever order patients, lesions,
    observations, treatments and features are listed in (check.py tries the reverse order)."""
    expected = json.loads(path.read_text())
    doc = json.loads((path.parent / expected["timeline"]).read_text())
    today = date.today()
    rnd = random.Random(path.name)
    for as_of in sorted({date.fromisoformat(c["as_of"]) for c in expected["checks"]}):
        want = json.dumps(infer_timeline(validate_timeline(doc, today=today), as_of))
        for order in (None, rnd, rnd):
            other = validate_timeline(_reordered(doc, order), today=today)
            assert json.dumps(infer_timeline(other, as_of)) == want, f"as of {as_of}"
