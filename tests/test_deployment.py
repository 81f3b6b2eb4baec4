"""What can be checked of the production shape on a machine without Docker: the compose file
parses, each service's command is something this package installs, and the environment it
passes is what the code reads."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def compose() -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(doc, dict)
    return doc


def test_compose_has_the_production_services_with_health_checks() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name
    assert "pgdata" in compose()["volumes"]
    # scalable worker: no fixed container name or host port
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]


def test_every_service_command_is_installed(monkeypatch: Any) -> None:
    monkeypatch.setenv("SECRET_KEY", "given-by-compose")  # the web app refuses to start without
    for name, service in compose()["services"].items():
        command = service.get("command")
        if not command or name in ("postgres", "redis"):
            continue
        program = command[0]
        assert (BIN / program).exists() or shutil.which(program), f"{name}: {program}"
        if program == "gunicorn":
            module, _, factory = command[-1].partition(":")
            app = getattr(importlib.import_module(module), factory.removesuffix("()"))()
            assert app.name
        if program == "celery":
            assert command[1:3] == ["-A", "workers"]
            assert importlib.import_module("workers").celery is not None


def test_environment_names_are_the_ones_the_code_reads() -> None:
    env = compose()["x-app"]["environment"]
    sources = "".join(
        p.read_text() for p in (ROOT / "tracker" / "config.py", *(ROOT / "web").rglob("*.py"))
    )
    for name in env:
        assert f'"{name}"' in sources, f"{name} is set in compose but never read"
    readme = (ROOT / "README.md").read_text()
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
        assert name in readme


def test_the_compose_broker_keeps_its_queue_across_a_restart() -> None:
    """Queued assessments survive a Redis restart: append-only persistence on a volume."""
    redis = compose()["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(v.endswith(":/data") for v in redis["volumes"])
    assert "redisdata" in compose()["volumes"]
