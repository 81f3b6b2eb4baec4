"""`python -m tracker.cli.wait_for_port HOST PORT [SECONDS]`: wait until a TCP server answers
there (exit 0), or give up after SECONDS (default 60; exit 1). `make run` prints the sign-in
line once the web server is up, after the worker's banners."""

from __future__ import annotations

import socket
import sys
import time


def wait_for_port(host: str, port: int, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


if __name__ == "__main__":
    host, port, *rest = sys.argv[1:]
    sys.exit(0 if wait_for_port(host, int(port), float(rest[0]) if rest else 60.0) else 1)
