"""Filling in and sending the customer site's forms the way a browser without JavaScript does: every field of
the form as the page gave it (hidden ones included), the changes a person typed, and the button they pressed."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

from httpx import AsyncClient, Response


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (name, value) of the submit buttons
    radios: dict[str, list[str]] = field(default_factory=dict)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.footer: list[Form] = []  # the site footer's subscribe form (every page), apart from the page's own
        self._current: Form | None = None
        self._textarea: str | None = None
        self._select: str | None = None
        self.alerts: list[str] = []
        self.errors: dict[str, str] = {}
        self._capture: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._current = Form(a.get("action", ""))
            footer = "subscribe" in a.get("class", "").split()
            (self.footer if footer else self.forms).append(self._current)
        if self._current is None:
            return
        form = self._current
        if tag == "input" and a.get("name"):
            if a.get("type") == "radio":
                form.radios.setdefault(a["name"], []).append(a["value"])
                if "checked" in a:
                    form.fields[a["name"]] = a["value"]
            elif a.get("type") == "checkbox":
                if "checked" in a:
                    form.fields[a["name"]] = a.get("value", "on")
            else:
                form.fields[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            form.fields[a["name"]] = ""
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and ("selected" in a or self._select not in form.fields):
            form.fields[self._select] = a.get("value", "")
        elif tag == "button" and a.get("name"):
            form.buttons.append((a["name"], a.get("value", "")))
        if tag == "p" and a.get("class") == "error" and a.get("id", "").endswith("-error"):
            self._capture = a["id"].removeprefix("f-").removesuffix("-error")

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        if tag == "select":
            self._select = None
        if tag == "p":
            self._capture = None

    def handle_data(self, data: str) -> None:
        if self._textarea and self._current:
            self._current.fields[self._textarea] += data
        if self._capture:
            self.errors[self._capture] = self.errors.get(self._capture, "") + data


@dataclass
class Page:
    response: Response
    forms: list[Form]
    errors: dict[str, str]
    footer: list[Form] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.response.text

    @property
    def form(self) -> Form:
        return self.forms[-1]


def read(response: Response) -> Page:
    parser = _Forms()
    parser.feed(response.text)
    return Page(response, parser.forms, parser.errors, parser.footer)


async def submit(client: AsyncClient, page: Page, button: tuple[str, str] | None = ("go", "next"), *,
                 form: Form | None = None, **typed: str) -> Page:
    """Sends the form with `typed` changes and the pressed `button` (a redirect is followed)."""
    form = form or page.form
    unknown = set(typed) - set(form.fields) - set(form.radios)
    assert not unknown, f"no such field on the page: {unknown}"
    data = {**form.fields, **typed}
    if button:
        assert button in form.buttons, f"no button {button} on the page: {form.buttons}"
        data[button[0]] = button[1]
    response = await client.post(form.action, data=data, follow_redirects=True)
    return read(response)


def csrf_of(page: Page) -> str:
    """The CSRF token a page's forms carry (on an admin page: the sign-in session's own)."""
    return next(form.fields["csrf_token"] for form in page.forms if "csrf_token" in form.fields)


async def admin_csrf(client: AsyncClient) -> str:
    """The CSRF token the admin pages give this client: its sign-in session's (signed out: its cookie's)."""
    page = read(await client.get("/admin/settings"))
    return next((form.fields["csrf_token"] for form in page.forms if "csrf_token" in form.fields),
                client.cookies.get("mh_csrf", ""))
