"""The chat launcher on the site's pages (issue 20, item 1): a plain button on every page, which names the widget's
script and stylesheet for site.js to load on the first press; no page loads them before, and the page of a station
says which one (the chat starts its thread there)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from myhibachi.web.site.pages import PAGES


class Tags(HTMLParser):
    """Every start tag of a page: (name, attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.found


def launcher(html: str) -> dict[str, str | None]:
    [button] = [attrs for tag, attrs in tags(html) if tag == "button" and attrs.get("id") == "chat-launcher"]
    return button


def loaded_eagerly(html: str) -> list[str]:
    """The scripts and stylesheets the page itself loads."""
    return [str(attrs.get("src") or attrs.get("href")) for tag, attrs in tags(html)
            if tag == "script" or (tag == "link" and attrs.get("rel") == "stylesheet")]


@pytest.fixture
async def fremont(make_station):  # noqa: ANN001, ANN201
    return await make_station("FRE")


@pytest.mark.parametrize("path", [*PAGES, "/locations/fre"])
async def test_every_page_has_the_launcher_and_loads_no_chat_before_it_is_pressed(client, fremont, path):
    html = (await client.get(path)).text
    button = launcher(html)

    assert button["type"] == "button" and "hidden" in button and button["aria-expanded"] == "false"
    assert str(button["data-script"]).startswith("/static/js/chat.")
    assert str(button["data-style"]).startswith("/static/css/chat.")
    assert not [url for url in loaded_eagerly(html) if "chat" in url]
    assert any(url.startswith("/static/js/site.") for url in loaded_eagerly(html))  # the loader


async def test_the_widget_files_the_launcher_names_are_served(client, fremont):
    button = launcher((await client.get("/book")).text)

    script = await client.get(str(button["data-script"]))
    style = await client.get(str(button["data-style"]))

    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert '"/api/v1/chat/session"' in script.text
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")


async def test_a_stations_page_names_its_station_and_the_booking_page_none(client, fremont):
    assert launcher((await client.get("/locations/fre")).text)["data-station"] == "FRE"
    assert "data-station" not in launcher((await client.get("/book")).text)


async def test_the_pages_policy_lets_the_chat_open_its_same_origin_socket_only(client, fremont):
    policy = (await client.get("/book")).headers["content-security-policy"]

    assert "default-src 'self'" in policy and "connect-src" not in policy  # 'self' covers ws/wss to this host
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
