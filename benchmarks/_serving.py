"""What the HTTP benchmarks share: a migrated throwaway PostgreSQL database, and uvicorn servers on 127.0.0.1
in subprocesses, all removed again when the benchmark ends (also on failure). Not a benchmark itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from myhibachi.core.db import create_engine
from myhibachi.core.migrations import upgrade_to_head

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
SECRET = "benchmark-secret-key-0123456789-abcdefghijklmnop"  # noqa: S105 - a throwaway server
HOST = "127.0.0.1"  # loopback only: nothing the benchmarks serve is reachable from elsewhere


def local_url(port: int) -> str:
    return f"http://{HOST}:{port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


async def _admin(sql: str) -> None:
    # CREATE / DROP DATABASE cannot run inside a transaction.
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@asynccontextmanager
async def throwaway_database() -> AsyncIterator[str]:
    """A fresh database migrated to head, yielded as its URL; dropped on exit."""
    name = f"myhibachi_bench_{os.getpid()}"
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'  # FORCE: a server left behind must not block it
    await _admin(drop)  # the leftover of an earlier run that died with the same pid
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        await asyncio.to_thread(upgrade_to_head, url)
        yield url
    finally:
        await _admin(drop)


def app_env(url: str, port: int, folder: Path) -> dict[str, str]:
    """The settings of a served app on the database `url`, its mail written below `folder`."""
    return {"DATABASE_URL": url, "SECRET_KEY": SECRET, "ENVIRONMENT": "development", "LOG_LEVEL": "WARNING",
            "MAIL_DIR": str(folder / "mail"), "BASE_URL": local_url(port),
            "BOOKING_HOLDS_PER_IP": "1000000"}  # every benchmark request comes from 127.0.0.1


class Servers:
    """uvicorn subprocesses sharing a temp folder (their cwd and logs); on exit they are stopped, the tails of
    their logs printed and the folder removed."""

    def __init__(self, prefix: str) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=prefix))
        self._running: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for server in self._running:
            _stop(server)
        for log in sorted(self.folder.glob("server-*.log")):
            if lines := log.read_text(errors="replace").strip().splitlines():
                print(f"{log.name} (last lines):", *lines[-20:], sep="\n  ")
        shutil.rmtree(self.folder, ignore_errors=True)

    def start(self, target: str, port: int, env: Mapping[str, str | None]) -> subprocess.Popen[bytes]:
        """uvicorn, one process, the same options for every app; `env` overrides this process's environment
        (None: unset)."""
        # --app-dir: this folder, so a target may be a benchmark script's own app.
        return self.spawn(f"server-{port}", [
            sys.executable, "-m", "uvicorn", target, "--factory", "--app-dir", str(Path(__file__).parent),
            "--host", HOST, "--port", str(port), "--no-access-log", "--log-level", "warning", "--no-proxy-headers"],
            env)

    def spawn(self, name: str, command: list[str], env: Mapping[str, str | None]) -> subprocess.Popen[bytes]:
        """Any process (a worker, a Redis), in a session of its own so that stopping it stops its children too;
        its output is appended to `name`.log (a restarted process continues the log of the one before)."""
        merged = {key: value for key, value in {**os.environ, **env}.items() if value is not None}
        # cwd: the temp folder, so no .env of the checkout leaks into the settings.
        with (self.folder / f"{name}.log").open("ab") as log:  # the child keeps its own handle
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                command, env=merged, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._running.append(process)
        return process


async def wait_ready(client: httpx.AsyncClient, server: subprocess.Popen[bytes], deadline: float = 30.0) -> None:
    """Until GET /ready answers 200 on `client`; fails early if the server exits."""
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        if server.poll() is not None:
            raise RuntimeError(f"the server at {client.base_url} exited with {server.returncode}")
        try:
            if (await client.get("/ready")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the server at {client.base_url} did not become ready")


def _stop(server: subprocess.Popen[bytes]) -> None:
    # SIGTERM first so uvicorn runs the app's shutdown (pools closed before the database is dropped). To the whole
    # process group: a worker's children go with it, also those a SIGKILLed parent left behind.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
