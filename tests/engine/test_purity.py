"""The engine is pure: stdlib + vocabulary + constants, no clock, no framework."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import tracker.clinical_constants
import tracker.engine
import tracker.recheck

FORBIDDEN = ("sqlalchemy", "flask", "celery", "pydantic", "click", "apiflask", "matplotlib")
ALLOWED_LOCAL = {"tracker", "tracker.vocabulary", "tracker.clinical_constants"}
# The pure modules: the engine, its numbers, and the recheck date computed from it.
PURE_MODULES = (tracker.engine, tracker.clinical_constants, tracker.recheck)


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
    assert [m for m in loaded if m.startswith("tracker")] == sorted(
        {"tracker", "tracker.engine", "tracker.vocabulary", "tracker.clinical_constants",
         "tracker.recheck"}
    )


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_engine_and_constants_import_only_stdlib_and_vocabulary() -> None:
    for module in PURE_MODULES:
        assert module.__file__ is not None
        allowed = ALLOWED_LOCAL | ({"tracker.engine"} if module is tracker.recheck else set())
        for name in _imports(Path(module.__file__)):
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or name in allowed, name


def test_engine_never_reads_the_clock() -> None:
    for module in (tracker.engine, tracker.recheck):
        assert module.__file__ is not None
        _assert_no_clock(Path(module.__file__).read_text())


def _assert_no_clock(source: str) -> None:
    for call in ("date.today(", "datetime.now(", "datetime.today(", "time.time("):
        assert call not in source.replace('"date.today()"', "").replace("`date.today()`", "")
