"""What the inbox tests share: the booking fixtures (frozen clock, station FRE), staff of the station (an admin and
support, signed in through the API: `admin`/`support` are their auth headers), a principal for calling commands
directly, and the worker's sweep of the outbox (deliveries)."""

from __future__ import annotations

import pytest

from myhibachi.auth.permissions import Role
from myhibachi.auth.principal import Principal
from tests.bookings.conftest import NOW, add_chefs, book, clock, station  # noqa: F401

API = "/api/v1"


@pytest.fixture
async def admin(station, make_user, login):  # noqa: ANN001, ANN201, F811
    await make_user("admin@example.com", Role.admin, station, name="Ada Admin")
    return await login("admin@example.com")


@pytest.fixture
async def support(station, make_user, login):  # noqa: ANN001, ANN201, F811
    await make_user("support@example.com", Role.support, station, name="Sam Support")
    return await login("support@example.com")


@pytest.fixture
async def admin_principal(station, make_user) -> Principal:  # noqa: ANN001, F811
    user_id = await make_user("boss@example.com", Role.admin, station, name="Bo Boss")
    return Principal(user_id=user_id, email="boss@example.com", name="Bo Boss", is_super_admin=False,
                     roles={station.id: Role.admin})


async def deliver_pending(runtime) -> int:  # noqa: ANN001
    """Every outbox message not yet handled (a delivery that failed for now, say) handled again, as the worker's sweep
    does; how many. (A unit of work of `runtime.jobs.unit_of_work()` or an API request delivers its own at once.)"""
    return await runtime.jobs.sweep_once(0)
