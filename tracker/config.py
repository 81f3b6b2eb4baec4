"""Settings read from the environment, shared by the CLI, the workers and the web layer.

Standard library only. The embedded default needs no server: a SQLite database and a SQLite
broker under the instance folder.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

SECRET_KEY_FILE = "secret_key"  # in the instance folder: `make run` writes it once


def default_instance() -> Path:
    """Where the embedded default keeps its files (CALCITRACK_INSTANCE, else ./instance)."""
    return Path(os.environ.get("CALCITRACK_INSTANCE") or Path.cwd() / "instance")


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    result_backend: str | None
    secret_key: str | None  # SECRET_KEY, else the instance's secret_key file, else none
    instance_path: Path
    scan_hour: int
    scan_minute: int
    sweep_grace_seconds: int
    smtp_host: str | None
    smtp_port: int
    smtp_sender: str
    alert_emails: tuple[str, ...]
    webhook_url: str | None
    max_timeline_bytes: int
    redis_url: str | None = None
    viewer_url_template: str | None = None
    report_institution: str | None = None  # named in the printable report's header
    # A task handed to the broker this long ago and still not run is taken as lost and re-sent
    # by the sweep (above Redis's visibility timeout, after which it redelivers by itself).
    resend_after_seconds: int = 3900
    assess_batch_size: int = 200  # lesion ids per assessment task
    # argon2 parameters for new password hashes: a profile name of argon2-cffi
    # (`RFC_9106_LOW_MEMORY`, its default; `CHEAPEST` only where nothing real is protected,
    # as in the test suite). Stored hashes carry their own parameters and always verify.
    password_hash_profile: str = "RFC_9106_LOW_MEMORY"
    # The PACS (DICOMweb root URL); unset, nothing PACS runs. Basic auth (username and
    # password) or a bearer token; one timeout in seconds for connecting and for each read.
    dicomweb_url: str | None = None
    dicomweb_username: str | None = None
    dicomweb_password: str | None = None
    dicomweb_token: str | None = None
    dicomweb_timeout_seconds: float = 30.0
    pacs_poll_minutes: int = 5
    pacs_write_back: bool = False  # send calcitrack's readings back to the PACS as SRs
    # The hospital's record-number namespace (a URI) for the FHIR Patient identifier; unset,
    # calcitrack's own URN says the id is calcitrack's.
    patient_identifier_system: str | None = None


def flag(value: str | None, default: bool = False) -> bool:
    """An on/off setting: 1, true, yes, on (any case) are on; unset is the default."""
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def _kept_secret_key(instance: Path) -> str | None:
    try:
        return (instance / SECRET_KEY_FILE).read_text(encoding="ascii").strip() or None
    except (FileNotFoundError, NotADirectoryError):
        return None


def keep_secret_key(instance: Path) -> Path:
    """The instance's secret key file, written once (random, readable by its owner only) and
    then kept, so that sessions survive a restart of the embedded default."""
    path = instance / SECRET_KEY_FILE
    instance.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return path


def _embedded_sqlite(instance: Path, name: str) -> str:
    return f"sqlite:///{(instance / name).resolve()}"


def from_env(instance_path: Path | str | None = None) -> Settings:
    """Read every setting; missing ones fall back to the embedded default."""
    env = os.environ
    instance = Path(instance_path) if instance_path is not None else default_instance()
    redis_url = env.get("REDIS_URL")
    broker = env.get("BROKER_URL") or redis_url or (
        "sqla+" + _embedded_sqlite(instance, "broker.sqlite")
    )
    backend = env.get("RESULT_BACKEND") or redis_url
    return Settings(
        database_url=env.get("DATABASE_URL") or _embedded_sqlite(instance, "calcitrack.sqlite"),
        broker_url=broker,
        result_backend=backend,
        secret_key=env.get("SECRET_KEY") or _kept_secret_key(instance),
        instance_path=instance,
        scan_hour=int(env.get("SCAN_HOUR", "6")),
        scan_minute=int(env.get("SCAN_MINUTE", "0")),
        sweep_grace_seconds=int(env.get("SWEEP_GRACE_SECONDS", "60")),
        smtp_host=env.get("SMTP_HOST") or None,
        smtp_port=int(env.get("SMTP_PORT", "25")),
        smtp_sender=env.get("SMTP_SENDER", "calcitrack@localhost"),
        alert_emails=tuple(a.strip() for a in env.get("ALERT_EMAILS", "").split(",") if a.strip()),
        webhook_url=env.get("ALERT_WEBHOOK_URL") or None,
        max_timeline_bytes=int(env.get("MAX_TIMELINE_BYTES", str(10 * 1024 * 1024))),
        redis_url=redis_url or None,
        viewer_url_template=env.get("VIEWER_URL_TEMPLATE") or None,
        report_institution=(env.get("REPORT_INSTITUTION") or "").strip() or None,
        resend_after_seconds=int(env.get("RESEND_AFTER_SECONDS", "3900")),
        assess_batch_size=max(1, int(env.get("ASSESS_BATCH_SIZE", "200"))),
        password_hash_profile=env.get("PASSWORD_HASH_PROFILE", "RFC_9106_LOW_MEMORY"),
        dicomweb_url=env.get("DICOMWEB_URL") or None,
        dicomweb_username=env.get("DICOMWEB_USERNAME") or None,
        dicomweb_password=env.get("DICOMWEB_PASSWORD") or None,
        dicomweb_token=env.get("DICOMWEB_TOKEN") or None,
        dicomweb_timeout_seconds=float(env.get("DICOMWEB_TIMEOUT_SECONDS", "30")),
        pacs_poll_minutes=max(1, int(env.get("PACS_POLL_MINUTES", "5"))),
        pacs_write_back=flag(env.get("PACS_WRITE_BACK")),
        patient_identifier_system=env.get("PATIENT_IDENTIFIER_SYSTEM") or None,
    )
