"""The one wall clock of the write side: an aware timestamp in the server's zone."""

from __future__ import annotations

from datetime import datetime


def now() -> datetime:
    return datetime.now().astimezone()
