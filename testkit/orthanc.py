"""A private Orthanc with the DICOMweb plugin: its configuration, and starting and stopping it.

The one owner of the Orthanc set-up: the tests start one per test process from here, and
`.ci/services` starts the long-running one for a developer or CI with
`python3 -m testkit.orthanc serve --port 18042 --dir DIR`. Standard library only, so that the
system Python can run it before the project is installed.

Debian's packages (`orthanc`, `orthanc-dicomweb`) put the server and the plugin at the paths
below; the Debian service's own configuration and storage (/etc/orthanc, /var/lib/orthanc) are
never used. The DICOM port is off and only loopback is served.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

BINARY = Path("/usr/sbin/Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
DICOMWEB_ROOT = "/dicom-web/"
START_SECONDS = 20.0


class OrthancMissing(RuntimeError):
    """Orthanc or its DICOMweb plugin is not installed, or it would not start."""


def config(port: int, storage: Path, users: dict[str, str] | None = None,
           name: str = "calcitrack") -> dict[str, Any]:
    """The whole configuration: HTTP on loopback `port`, DICOMweb at /dicom-web/, storage and
    index in `storage`; HTTP basic authentication on when `users` (name -> password)."""
    return {
        "Name": name,
        "StorageDirectory": str(storage),
        "IndexDirectory": str(storage),
        "HttpPort": port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": bool(users),
        "RegisteredUsers": users or {},
        "DicomServerEnabled": False,
        "Plugins": [str(DICOMWEB_PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": DICOMWEB_ROOT, "EnableWado": False},
        "SaveJobs": False,
        "ConcurrentJobs": 1,
        "HttpThreadsCount": 8,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stopped(task: Path) -> bool:
    """A thread (/proc/<pid>/task/<tid>) stopped by a signal, or gone."""
    try:
        stat = (task / "stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] in "tT"


def _die_with_parent() -> None:
    """In the child before exec: end Orthanc when the process that started it ends, so a killed
    test run leaves no server behind (Linux prctl PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


class Orthanc:
    """One Orthanc process on loopback with its own folder (configuration, storage, log)."""

    def __init__(self, folder: Path, port: int | None = None,
                 users: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.chosen_port = port
        self.port = port or free_port()
        self.users = users
        # Its own name: `answers` knows it is this server, not another that took the port
        self.name = f"calcitrack-{uuid.uuid4().hex[:12]}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb_url(self) -> str:
        return self.url + DICOMWEB_ROOT.rstrip("/")

    @property
    def log(self) -> Path:
        return self.folder / "orthanc.log"

    def start(self, *, detach: bool = False) -> Orthanc:
        """Write the configuration and start the server; return once it answers. `detach`:
        a server that outlives this process (the long-running one), else it ends with it."""
        for path, what in ((BINARY, "the orthanc package"),
                           (DICOMWEB_PLUGIN, "the orthanc-dicomweb package")):
            if not path.exists():
                raise OrthancMissing(f"{path} not found: install {what} (.ci/services does)")
        storage = self.folder / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        # A free port may be taken by another process before Orthanc binds it (parallel test
        # processes start theirs at once): then Orthanc exits, and a port it picked is tried
        # again with another.
        for _attempt in range(5):
            if self._launch(storage, detach):
                return self
            if self.chosen_port is not None:
                break
            self.port = free_port()
        tail = self.log.read_text(errors="replace")[-1500:] if self.log.exists() else ""
        raise OrthancMissing(f"Orthanc did not start on port {self.port}:\n{tail}")

    def _launch(self, storage: Path, detach: bool) -> bool:
        conf = self.folder / "orthanc.json"
        conf.write_text(json.dumps(config(self.port, storage, self.users, self.name), indent=2))
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(BINARY), f"--logfile={self.log}", str(conf)], cwd=self.folder,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=detach, preexec_fn=None if detach else _die_with_parent)
        deadline = time.monotonic() + START_SECONDS
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                return False
            time.sleep(0.05)
        return True

    def answers(self, *, anyone: bool = False) -> bool:
        """This server (by its name), or with `anyone` any Orthanc, answers on the port."""
        try:
            system = self.rest("GET", "/system", timeout=1)
        except (OSError, urllib.error.URLError):
            return False
        return anyone or (isinstance(system, dict) and system.get("Name") == self.name)

    def rest(self, method: str, path: str, timeout: float = 10) -> Any:
        """Orthanc's own REST API (not DICOMweb): how tests look inside and clean up."""
        request = urllib.request.Request(self.url + path, method=method)
        if self.users:
            name, password = next(iter(self.users.items()))
            token = base64.b64encode(f"{name}:{password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def clear(self) -> None:
        """Delete every study (and so every instance): an empty PACS for the next test."""
        for study in self.rest("GET", "/studies"):
            self.rest("DELETE", f"/studies/{study}")

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections are accepted by the kernel but never
        answered, as with a hung PACS. Returns once every thread of it is stopped: the signal
        is delivered asynchronously, and on a loaded machine a thread may still be running
        when `kill` returns."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        tasks = Path(f"/proc/{self.process.pid}/task")
        deadline = time.monotonic() + START_SECONDS
        while not all(_stopped(task) for task in tasks.iterdir()):
            if time.monotonic() > deadline:
                raise AssertionError(f"Orthanc (pid {self.process.pid}) did not stop")
            time.sleep(0.01)

    def who_listens(self) -> str:
        """What `ss` says listens on this server's port (for a test's failure message)."""
        found = subprocess.run(["ss", "-ltnpH", f"sport = :{self.port}"], capture_output=True,
                               text=True, check=False)
        return found.stdout.strip() or found.stderr.strip() or "nothing listens"

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Kill the server: its storage is throwaway, and a clean shutdown takes Orthanc
        2 s (its HTTP server's polling) where a kill takes none."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.kill()
        self.process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m testkit.orthanc")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start a long-running Orthanc unless one answers")
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--dir", type=Path, required=True, help="configuration and storage")
    args = parser.parse_args(argv)
    server = Orthanc(args.dir, port=args.port)
    if server.answers(anyone=True):
        return 0
    try:
        server.start(detach=True)
    except OrthancMissing as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"Orthanc (DICOMweb {server.dicomweb_url}) started, pid {server.process.pid}"
          if server.process else "", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
