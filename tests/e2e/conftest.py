"""Browser tests: Debian's Chromium driven by Playwright against the app served by uvicorn on 127.0.0.1, on a
database of its own (SQLite, or PostgreSQL when TEST_DATABASE_URL is set) loaded with the demo data."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
import uvicorn
from playwright.async_api import Page, async_playwright
from sqlalchemy.engine import make_url

from myhibachi.app import create_app
from myhibachi.core.db import Database
from myhibachi.core.migrations import upgrade_to_head
from myhibachi.demo import DEMO_PASSWORD, seed_demo
from myhibachi.settings import Environment, Settings
from tests.conftest import PG_URL, TEST_SECRET, _pg_admin

CHROMIUM = "/usr/bin/chromium"
# Headless, and quiet: this machine refuses outside connections, which Chromium's background services would try.
FLAGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOTS = Path("artifacts/screenshots")
T = TypeVar("T")


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    """A fresh Chromium page (Playwright's async API: its sync API would hold an event loop in this thread for the
    rest of the session, which every asyncio.run() after it would trip over)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            context = await browser.new_context()
            yield await context.new_page()
        finally:
            await browser.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _off_the_loop(run: Callable[[], T]) -> T:
    """Playwright's sync API keeps an event loop running in this thread: asyncio work goes to another one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def _database(tmp: Path) -> Iterator[str]:
    if not PG_URL:
        yield f"sqlite+aiosqlite:///{tmp / 'e2e.sqlite'}"
        return
    url = make_url(PG_URL).set(database=f"myhibachi_e2e_{os.getpid()}")
    drop = f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'
    _off_the_loop(lambda: asyncio.run(_pg_admin(drop, PG_URL)))
    _off_the_loop(lambda: asyncio.run(_pg_admin(f'CREATE DATABASE "{url.database}"', PG_URL)))
    yield url.render_as_string(hide_password=False)
    _off_the_loop(lambda: asyncio.run(_pg_admin(drop, PG_URL)))


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app at http://127.0.0.1:PORT, with the demo stations, rules and users; stopped after the session."""
    tmp = tmp_path_factory.mktemp("e2e")
    databases = _database(tmp)
    database_url = next(databases)
    _off_the_loop(lambda: upgrade_to_head(database_url))
    port = _free_port()
    settings = Settings(_env_file=None, environment=Environment.test, secret_key=TEST_SECRET,
                        database_url=database_url, mail_dir=tmp / "mail", jobs_inline=True,
                        base_url=f"http://127.0.0.1:{port}", booking_holds_per_ip=1000)

    async def seed() -> None:
        db = Database(database_url)
        try:
            await seed_demo(db, settings, history=False)  # the tests make the bookings they need
        finally:
            await db.dispose()

    _off_the_loop(lambda: asyncio.run(seed()))
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="e2e-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the e2e server did not start")
        time.sleep(0.05)
    yield settings.base_url
    server.should_exit = True
    thread.join(timeout=10)
    next(databases, None)


async def sign_in(page: Page, live_server: str, email: str = "admin@example.com") -> None:
    """Signs the browser in to the admin pages as a demo user (password: the demo's)."""
    await page.goto(live_server + "/admin/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(live_server + "/admin")


@pytest.fixture
def screenshot(page: Page) -> Callable[[str], Awaitable[Path]]:
    """Save a full-page screenshot as a test artifact: `await screenshot("quote-result")`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    async def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path

    return take
