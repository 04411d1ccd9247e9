"""Browser tests: Debian's Chromium driven by Playwright against the app served by uvicorn on 127.0.0.1, on a
database of its own (SQLite, or PostgreSQL when TEST_DATABASE_URL is set) loaded with the demo data.

One Chromium per test process, launched on the first browser test and shared by all of them on one session-scoped
event loop (Playwright's objects belong to the loop that made them); each test gets a context of its own (cookies,
storage) and a page in it. Dates come from the station's clock, never the host's: the live server runs on the real
time, so the tests pick days by what the calendar offers on or after a day counted from the station's today."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
import uvicorn
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright, expect
from pytest_asyncio import is_async_test

from myhibachi.app import create_app
from myhibachi.core.db import Database
from myhibachi.core.migrations import upgrade_to_head
from myhibachi.demo import DEMO_PASSWORD, seed_demo
from myhibachi.settings import Environment, Settings
from tests.conftest import PG_URL, TEST_SECRET, _pg_admin, create_pg_database

CHROMIUM = "/usr/bin/chromium"
# Headless, and quiet: this machine refuses outside connections, which Chromium's background services would try.
FLAGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOTS = Path("artifacts/screenshots")
HERE = Path(__file__).resolve().parent
T = TypeVar("T")
SERVED: dict[str, Settings] = {}  # the live server's settings (its database, secret key), for tests that add rows
# How long an expectation waits for the page to come right (Playwright's default: 5 s). Two test processes, each with
# its Chromium and its live server, share two cores with PostgreSQL: on a slow machine a step that renders a month
# of availability took over 5 s there. A page that never comes right still fails, only later.
expect.set_options(timeout=15_000)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is marked `browser`, and its coroutine runs on the session's event loop, the one
    the shared Chromium was launched on. (This hook sees every collected item, not only this directory's.)"""
    session_loop = pytest.mark.asyncio(loop_scope="session")
    for item in items:
        if not item.path.resolve().is_relative_to(HERE):
            continue
        item.add_marker(pytest.mark.browser)
        if is_async_test(item):
            item.add_marker(session_loop, append=False)  # closest marker: before auto mode's plain one


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Chromium, launched once per test process (Playwright's async API: its sync API would hold an event loop in
    this thread for the rest of the session, which every asyncio.run() after it would trip over)."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A page in a fresh browser context: no cookie, storage or cache of another test."""
    context = await browser.new_context()
    try:
        yield await context.new_page()
    finally:
        await context.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _off_the_loop(run: Callable[[], T]) -> T:
    """asyncio.run() in a thread of its own: this thread's event loop is pytest-asyncio's (the session's one, shared
    by the browser tests), which asyncio.run() here would replace and then close."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def _database(tmp: Path) -> Iterator[str]:
    if not PG_URL:
        yield f"sqlite+aiosqlite:///{tmp / 'e2e.sqlite'}"
        return
    name = f"myhibachi_e2e_{os.getpid()}"
    yield _off_the_loop(lambda: create_pg_database(name))
    _off_the_loop(lambda: asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', PG_URL)))


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
    SERVED["settings"] = settings
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                                          proxy_headers=False))  # as `myhibachi serve`: FORWARDED_ALLOW_IPS decides
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


async def accessible(page: Page, *, every_impact: bool = False) -> None:
    """No serious or critical axe-core violation on the page as it is now (`every_impact`: none at all), once a link
    just followed has loaded its page (axe on a document still arriving finds no document)."""
    await page.wait_for_load_state("domcontentloaded")
    results = await Axe().run(page)
    problems = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in results.response["violations"]
                if every_impact or v["impact"] in ("serious", "critical")]
    assert not problems, (page.url, problems)


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


# --- the station's clock and its calendar ------------------------------------------------------------------------


async def station_now(live_server: str, station_id: int = 1) -> datetime:
    """Now on the station's clock, in its zone as the stations API gives it (demo station 1: Fremont,
    America/Los_Angeles). The host's date (`date.today()`, UTC here) is a day ahead every evening there."""
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        stations = (await api.get("/stations")).json()
    [zone] = [s["timezone"] for s in stations if s["id"] == station_id]
    return datetime.now(ZoneInfo(zone))


async def station_today(live_server: str, station_id: int = 1) -> date:
    return (await station_now(live_server, station_id)).date()


async def first_free_slot(live_server: str, on_or_after: date, *, guests: int = 10, station_id: int = 1,
                          days: int = 60) -> tuple[str, str]:
    """The first start time the availability API offers on or after a station-local day: (YYYY-MM-DD, HH:MM)."""
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        response = await api.get(f"/stations/{station_id}/availability", params={
            "start": on_or_after.isoformat(), "end": (on_or_after + timedelta(days=days - 1)).isoformat(),
            "guests": guests})
    assert response.status_code == 200, response.text
    free = [(d["date"], s["time"]) for d in response.json()["days"] for s in d["slots"] if s["available"]]
    assert free, f"no free start time in the {days} days from {on_or_after}"
    return free[0]


async def choose_day(page: Page, on_or_after: date | None = None, *, months: int = 13) -> str:
    """Presses the first day the calendar on the page offers (its enabled day buttons) on or after `on_or_after`,
    turning to the next month with its button while the month shown has none; returns the day (YYYY-MM-DD).
    However few days are left in the month, whatever the date."""
    title = page.locator("#cal-title")
    for _ in range(months):
        await expect(title).to_be_visible()
        await page.wait_for_load_state("domcontentloaded")  # the whole month, not the part parsed so far
        values = await page.locator("button.day").evaluate_all("buttons => buttons.map(b => b.value)")
        days = [value.removeprefix("day:") for value in values]
        wanted = [day for day in days if on_or_after is None or date.fromisoformat(day) >= on_or_after]
        if wanted:
            button = page.locator(f'button.day[value="day:{wanted[0]}"]')
            await button.click()
            await expect(button).to_have_attribute("aria-pressed", "true")  # the page with that day's times
            return wanted[0]
        following = page.get_by_role("button", name="Next month")
        month = (await following.get_attribute("value")).removeprefix("month:")
        await following.click()
        await expect(title).to_have_text(date.fromisoformat(f"{month}-01").strftime("%B %Y"))
    raise AssertionError(f"no day offered on or after {on_or_after} in {months} months of the calendar")
