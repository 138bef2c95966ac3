"""`make run`'s entry point, `python -m connectors.run`, as a process: starts Rasa, the action server
and the app under supervisord, answers, and stops everything when a service manager sends SIGTERM
to its process group — even when started in the background, where a shell ignores SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.rasa_server import DEFAULT_MODEL, RASA_VENV
from connectors.run import free_port, port_in_use
from connectors.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

READY_TIMEOUT = float(os.environ.get("TTHC_TEST_READY_TIMEOUT", "900"))


def _own_group_without_sigint() -> None:
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="needs a trained Rasa model (`make train`)")
@pytest.mark.skipif(not (RASA_VENV / "bin" / "rasa").exists(), reason="needs .venv-rasa")
def test_make_run_serves_then_sigterm_to_its_group_stops_everything(tmp_path: Path) -> None:
    app_port, rasa_port, actions_port = free_port(), free_port(), free_port()
    env = dict(
        os.environ,
        PYTHONPATH=str(PROJECT_ROOT),
        TTHC_PORT=str(app_port),
        TTHC_RASA_URL=f"http://127.0.0.1:{rasa_port}",
        TTHC_ACTIONS_URL=f"http://127.0.0.1:{actions_port}",
        TTHC_STATE_DIR=str(tmp_path),
        TTHC_READY_TIMEOUT=str(READY_TIMEOUT),
    )
    env.pop("TTHC_CONNECTORS_DB", None)
    env.pop("TTHC_DATABASE_URL", None)
    output = (tmp_path / "run.out").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "connectors.run"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        preexec_fn=_own_group_without_sigint,
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while b"is ready after" not in (tmp_path / "run.out").read_bytes():
            assert process.poll() is None, (tmp_path / "run.out").read_text(errors="replace")
            assert time.monotonic() < deadline, "`python -m connectors.run` did not become ready"
            time.sleep(0.5)
        assert f"http://127.0.0.1:{app_port}/".encode() in (tmp_path / "run.out").read_bytes()
        # A new install has no coordinator yet: the output says how to create the first one.
        while b"Ctrl-C to stop" not in (tmp_path / "run.out").read_bytes():
            assert time.monotonic() < deadline, "the announcement did not finish"
            time.sleep(0.2)
        announced = (tmp_path / "run.out").read_text(errors="replace")
        assert f"http://127.0.0.1:{app_port}/console" in announced
        assert f"TTHC_DATABASE_URL=sqlite:///{tmp_path / 'tthc.db'} .venv/bin/tthc volunteer add" in announced
        assert "--role coordinator" in announced
        assert (tmp_path / "tthc.db").stat().st_mode & 0o777 == 0o600

        reply = httpx.post(
            f"http://127.0.0.1:{app_port}/api/chat",
            json={"sender_id": "run-test", "text": "làm giấy khai sinh cần gì"},
            timeout=60,
        )
        assert reply.status_code == 200
        assert "1.001193" in " ".join(message["text"] for message in reply.json()["messages"])
        assert (tmp_path / "rasa-tracker.db").is_file()
        assert (tmp_path / "logs" / "rasa.log").is_file()

        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=90) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        output.close()
    assert "Stopping" in (tmp_path / "run.out").read_text(errors="replace")
    for port in (app_port, rasa_port, actions_port):
        assert not port_in_use(port), f"port {port} still answers: an orphan was left"
    left = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout
    assert not left.strip(), f"processes left behind: {left}"
