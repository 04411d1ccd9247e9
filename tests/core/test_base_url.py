"""BASE_URL, unset, is the address the app is served on (http://HOST:PORT), so the links in emails work whatever
port `make run` was given (issue 16, item 7); an explicit BASE_URL still wins."""

from __future__ import annotations

from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from myhibachi.cli import app as cli
from myhibachi.settings import Environment, Settings, get_settings
from tests.bookings.conftest import add_chefs, book, clock, station  # noqa: F401 (fixtures)
from tests.conftest import TEST_SECRET, read_mails


def made(**values: object) -> Settings:
    return Settings(_env_file=None, environment=Environment.test, secret_key=TEST_SECRET, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize(("values", "base_url"), [
    ({}, "http://127.0.0.1:8000"),
    ({"port": 8123}, "http://127.0.0.1:8123"),
    ({"host": "192.0.2.10", "port": 9000}, "http://192.0.2.10:9000"),
    ({"host": "0.0.0.0", "port": 8123}, "http://127.0.0.1:8123"),  # every address: reached on loopback here
    ({"host": "::", "port": 8123}, "http://[::1]:8123"),
    ({"host": "fd00::5"}, "http://[fd00::5]:8000"),
    ({"host": "localhost", "port": 8123, "base_url": "https://book.example.com"}, "https://book.example.com"),
    ({"port": 8123, "base_url": "  "}, "http://127.0.0.1:8123"),
])
def test_unset_base_url_is_where_the_app_listens(values, base_url):
    assert made(**values).base_url == base_url


def test_from_the_environment(monkeypatch):
    monkeypatch.delenv("BASE_URL", raising=False)
    monkeypatch.setenv("PORT", "8123")
    assert made().base_url == "http://127.0.0.1:8123"

    monkeypatch.setenv("BASE_URL", "")
    assert made().base_url == "http://127.0.0.1:8123"
    monkeypatch.setenv("BASE_URL", "https://hibachi.example/")
    assert made().base_url == "https://hibachi.example/"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings, served on port 8123 with no BASE_URL: what `PORT=8123 make run` gets."""
    return Settings(_env_file=None, **{**settings.model_dump(), "base_url": "", "port": 8123})  # type: ignore[call-arg]


async def test_the_emailed_manage_link_leads_to_the_port_served(client, station, book, settings):  # noqa: F811
    created = await book(station.id)

    [received] = read_mails(settings)
    body = received.get_body(preferencelist=("plain",)).get_content()
    assert f"http://127.0.0.1:8123/manage/{created['manage_token']}" in body
    assert "127.0.0.1:8000" not in body


def test_serve_with_another_port_gives_the_app_that_base_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`myhibachi serve --port 9124`: the app uvicorn builds reads its settings again, and finds that port."""
    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.chdir(tmp_path)  # the key file of an install without SECRET_KEY goes here
    monkeypatch.delenv("BASE_URL", raising=False)
    monkeypatch.setenv("HOST", "127.0.0.1")  # set here, so that what serve writes is undone after the test
    monkeypatch.setenv("PORT", "8000")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["serve", "--port", "9124"])
        served = get_settings()
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 0, result.output
    assert [(call["host"], call["port"]) for call in calls] == [("127.0.0.1", 9124)]
    assert served.base_url == "http://127.0.0.1:9124"
