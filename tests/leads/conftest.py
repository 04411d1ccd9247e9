"""What the lead tests share: a station with a chef (a booking holds one) and support staff who work its leads,
and the booking fixtures (frozen clock, a station with chefs, booking over the API) for the doors' tests."""

import pytest

from myhibachi.auth.permissions import Role
from myhibachi.chefs.models import Chef
from tests.bookings.conftest import add_chefs, book, clock, station  # noqa: F401


@pytest.fixture
async def fremont(make_station, db):  # noqa: ANN001, ANN201
    fre = await make_station("FRE")
    async with db.transaction() as session:
        session.add(Chef(station_id=fre.id, name="Kenji", working_weekdays=[1, 2, 3, 4, 5, 6, 7], is_active=True))
    return fre


@pytest.fixture
async def support(fremont, make_user, login):  # noqa: ANN001, ANN201
    await make_user("support@example.com", Role.support, fremont, name="Sam Support")
    return await login("support@example.com")
