"""`myhibachi serve` listens where HOST and PORT say: the installed command, in a process of its own, against a
temporary SQLite file."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from myhibachi.app import serving_app
from myhibachi.cli import app
from myhibachi.core.migrations import upgrade_to_head
from myhibachi.settings import get_settings

pytestmark = pytest.mark.own_sqlite  # its own SQLite file whatever the pass of `make test`: run once

HOST = "127.0.0.1"  # every server a test starts listens on loopback only: HOST's own test below binds nothing
START_SECONDS = 60  # a bound, not a wait: the loop below returns as soon as /health answers


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def test_serve_listens_on_host_and_port_from_the_environment(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'serve.sqlite'}"
    upgrade_to_head(database_url)
    port = free_port(HOST)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOST": HOST, "PORT": str(port),
           "DATABASE_URL": database_url, "MAIL_DIR": str(tmp_path / "mail"), "COLUMNS": "200",
           "LOGIN_FAILURES_PER_IP": "1"}
    command = Path(sys.executable).with_name("myhibachi")  # the console script installed with the package
    output = tmp_path / "serve.log"
    base = f"http://{HOST}:{port}"
    with output.open("wb") as log:
        # cwd: no .env or ./var of the checkout is read or written
        server = subprocess.Popen([str(command), "serve"], env=env, cwd=tmp_path, stdout=log,  # noqa: S603
                                  stderr=subprocess.STDOUT)
        try:
            health = None
            deadline = time.monotonic() + START_SECONDS
            while health is None and server.poll() is None and time.monotonic() < deadline:
                try:
                    health = httpx.get(f"{base}/health", timeout=2)
                except httpx.TransportError:  # not listening yet
                    time.sleep(0.1)
            assert health is not None, f"no answer on {base} (exit code {server.poll()}):\n{output.read_text()}"
            stations = httpx.get(f"{base}/api/v1/stations", timeout=5)
            # Two failed sign-ins from this local client, each claiming another address: without
            # FORWARDED_ALLOW_IPS the header is not believed, so both count for 127.0.0.1 and the second is refused.
            sign_ins = [httpx.post(f"{base}/api/v1/auth/login", json={"email": "x@example.com", "password": "x"},
                                   headers={"X-Forwarded-For": forged}, timeout=5).status_code
                        for forged in ("198.51.100.1", "198.51.100.2")]
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    assert health.status_code == 200 and health.json() == {"status": "ok"}
    # Read from DATABASE_URL's migrated file (the default, ./var/myhibachi.db, does not exist there).
    assert stations.status_code == 200 and stations.json() == [], stations.text
    assert f"on http://{HOST}:{port}" in output.read_text()
    assert sign_ins == [401, 429]


def test_serve_hands_host_and_port_from_the_environment_to_uvicorn(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """HOST other than the default, which no test may listen on: uvicorn is replaced by a recorder."""
    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOST", "192.0.2.10")
    monkeypatch.setenv("PORT", "9123")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert [(call["host"], call["port"]) for call in calls] == [("192.0.2.10", 9123)]
    assert "http://192.0.2.10:9123" in result.output


def test_the_served_app_is_built_with_its_heap_frozen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`serve` builds the app with `serving_app`, which leaves what was built to no collector pass."""
    calls: list[tuple] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(args))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    try:
        assert CliRunner().invoke(app, ["serve"]).exit_code == 0
        assert calls == [("myhibachi.app:serving_app",)]
        served = serving_app()
        assert gc.get_freeze_count() > 0 and served.title.endswith("API")
    finally:
        gc.unfreeze()
        get_settings.cache_clear()
