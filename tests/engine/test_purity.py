"""The engine is pure: stdlib + vocabulary, no clock, no framework. So is `tracker.recheck`,
the date a lesion's assessment can next change, computed from the engine alone."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import tracker.engine
import tracker.recheck

FORBIDDEN = ("sqlalchemy", "flask", "celery", "pydantic", "click", "apiflask", "matplotlib")
ENGINE_DIR = Path(tracker.engine.__file__).parent
ENGINE_FILES = sorted(ENGINE_DIR.rglob("*.py"))
assert tracker.recheck.__file__ is not None
PURE_FILES = [*ENGINE_FILES, Path(tracker.recheck.__file__)]


def test_importing_the_engine_in_a_fresh_interpreter_loads_no_framework() -> None:
    code = (
        "import sys, json, tracker.engine, tracker.recheck; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = json.loads(out.stdout)
    leaked = [m for m in loaded if m.split(".")[0] in FORBIDDEN]
    assert leaked == []
    tracker_modules = {m for m in loaded if m.startswith("tracker")}
    assert tracker_modules - {"tracker", "tracker.vocabulary", "tracker.recheck"} == {
        m for m in tracker_modules if m == "tracker.engine" or m.startswith("tracker.engine.")
    }


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_every_engine_module_imports_only_stdlib_vocabulary_and_the_engine() -> None:
    assert len(ENGINE_FILES) > 10  # the package, not a stray single file
    for path in PURE_FILES:
        for name in _imports(path):
            top = name.split(".")[0]
            allowed = name in ("tracker.vocabulary", "tracker.engine") or name.startswith(
                "tracker.engine."
            )
            assert top in sys.stdlib_module_names or allowed, f"{path.name}: {name}"


def test_engine_never_reads_the_clock() -> None:
    for path in PURE_FILES:
        source = path.read_text()
        for call in ("date.today(", "datetime.now(", "datetime.today(", "time.time("):
            cleaned = source.replace('"date.today()"', "").replace("`date.today()`", "")
            assert call not in cleaned, f"{path.name} calls {call}"
