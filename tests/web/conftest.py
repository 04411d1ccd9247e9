"""The booking fixtures (frozen clock, a station with chefs) serve the site's and the admin pages' tests too."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.bookings.conftest import EVENT_DAY, NOW, add_chefs, book, clock, station  # noqa: F401
from tests.conftest import PASSWORD
from tests.web.browserless import Page, read, submit


@pytest.fixture
def admin_sign_in(client) -> Callable[..., Awaitable[Page]]:  # noqa: ANN001
    """Signs `client` in to the admin pages (the user must exist: `make_user`); returns the page it lands on."""

    async def sign_in(email: str, password: str = PASSWORD) -> Page:
        page = await submit(client, read(await client.get("/admin/login")), None, email=email, password=password)
        assert page.response.status_code == 200, page.text[:500]
        return page

    return sign_in
