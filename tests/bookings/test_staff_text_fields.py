"""Text hygiene of the staff's own forms (issue 14, item 8): a station's name and address lines, and a recorded
payment's reference, stay on one line and hold no control characters; 422 per field, nothing written."""

from __future__ import annotations

import pytest

from myhibachi.auth.permissions import Role
from myhibachi.payments.models import Payment
from myhibachi.stations.models import Station
from tests.api.test_problems import STATION, assert_problem, count
from tests.bookings.conftest import API


@pytest.mark.parametrize(("change", "field"), [
    ({"name": "San Jose\r\nBcc: eve@example.com"}, "body.name"),
    ({"name": "San Jose\x00"}, "body.name"),
    ({"address": {**STATION["address"], "line1": "1 Market St\nPaid"}}, "body.address.line1"),
    ({"address": {**STATION["address"], "city": "San\x1bJose"}}, "body.address.city"),
])
async def test_a_station_with_a_broken_line_or_a_control_character_is_refused(client, make_user, login, db,
                                                                              change, field):
    await make_user("root@example.com", Role.super_admin)
    root = await login("root@example.com")

    response = await client.post(f"{API}/stations", json={**STATION, **change}, headers=root)

    [error] = assert_problem(response, 422, "validation_error")["errors"]
    assert error["field"] == field
    assert await count(db, Station) == 0


@pytest.mark.parametrize("reference", ["Z-1\r\nTotal: $0.00", "Z-1\x00"])
async def test_a_payment_reference_with_a_line_break_or_a_control_character_is_refused(client, station, book,
                                                                                       make_user, login, db,
                                                                                       reference):
    await make_user("admin@example.com", Role.admin, station)
    admin = await login("admin@example.com")
    created = await book(station.id)

    response = await client.post(f"{API}/bookings/{created['id']}/payments", headers=admin,
                                 json={"method": "zelle", "amount_cents": 10000, "reference": reference})

    [error] = assert_problem(response, 422, "validation_error")["errors"]
    assert error["field"] == "body.reference"
    assert await count(db, Payment) == 0
