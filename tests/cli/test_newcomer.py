"""What a newcomer meets first: a typo gets the closest command; `make run` prints the sign-in
line once the web server answers, after the worker's banners."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from click.testing import CliRunner

from tracker.cli.main import main
from tracker.cli.wait_for_port import wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def test_a_typo_gets_the_closest_command() -> None:
    runner = CliRunner()
    top = runner.invoke(main, ["improt", "x.json"])
    assert top.exit_code == 2
    assert "No such command 'improt'. Did you mean 'import'" in top.output
    sub = runner.invoke(main, ["lesion", "splt"])
    assert sub.exit_code == 2 and "Did you mean 'split'" in sub.output
    user = runner.invoke(main, ["user", "pasword", "demo"])
    assert "Did you mean 'password'" in user.output
    nothing = runner.invoke(main, ["zzzz"])
    assert nothing.exit_code == 2 and "Did you mean" not in nothing.output


def test_make_run_prints_the_sign_in_after_the_server_is_up() -> None:
    recipe = (ROOT / "Makefile").read_text().split("\nrun: demo secret\n")[1].split("\n\n")[0]
    waits = recipe.index("wait_for_port")
    assert recipe.index("celery -A workers worker") < waits < recipe.index("sign in as")
    assert recipe.index("sign in as") < recipe.index("flask --app web run")


def test_wait_for_port_waits_until_a_server_answers() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    assert not wait_for_port("127.0.0.1", port, seconds=0.3)  # nobody there: gives up
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    timer = threading.Timer(0.3, server.listen)
    timer.start()
    try:
        assert wait_for_port("127.0.0.1", port, seconds=10)
    finally:
        timer.join()
        server.close()
