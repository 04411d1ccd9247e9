"""Need to know: a chef's view of their event (API and admin page) carries no payment history; what to collect at
the event shows only at a station whose chefs collect balances (a station setting)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from myhibachi.auth.permissions import Role
from myhibachi.chefs.models import Chef
from myhibachi.core.money import format_money
from tests.bookings.conftest import API
from tests.web.browserless import read

ADMIN, CHEF, ROOT = "admin@example.com", "chef@example.com", "root@example.com"
PAYMENT_FIELDS = {"paid_cents", "refund_owed_cents", "total_due_cents", "fees_cents", "payments", "refunds"}


@pytest.fixture
async def event(client, db, station, book, make_user, login) -> dict[str, Any]:
    """A confirmed booking cooked by the chef user, its deposit paid by Zelle."""
    await make_user(ADMIN, Role.admin, station)
    chef_user = await make_user(CHEF, Role.chef, station, name="Kenji")
    async with db.transaction() as session:
        await session.execute(update(Chef).where(Chef.name == "Chef FRE 1").values(user_id=chef_user))
        chef_id = (await session.execute(update(Chef).where(Chef.name == "Chef FRE 1").values(name="Kenji")
                                         .returning(Chef.id))).scalar_one()
    booking = await book(station.id)
    admin = await login(ADMIN)
    for path, body in ((f"bookings/{booking['id']}/assign-chef", {"chef_id": chef_id}),
                       (f"bookings/{booking['id']}/payments",
                        {"method": "zelle", "amount_cents": 10000, "reference": "ZL-1"})):
        response = await client.post(f"{API}/{path}", json=body, headers=admin)
        assert response.status_code in (200, 201), response.text
    return booking


async def _as(client, login, email: str, booking: dict) -> tuple[dict, dict]:  # noqa: ANN001
    headers = await login(email)
    detail = await client.get(f"{API}/bookings/{booking['id']}", headers=headers)
    listed = await client.get(f"{API}/bookings", headers=headers)
    assert detail.status_code == listed.status_code == 200, (detail.text, listed.text)
    (item,) = listed.json()["items"]
    return detail.json(), item


def _money_in_history(detail: dict) -> list[str]:
    return [key for entry in detail["history"] for side in (entry["before"] or {}, entry["after"] or {})
            for key in side if key.endswith("_cents") or key == "by_payment"]


async def test_a_chef_sees_no_payment_history_and_nothing_to_collect_by_default(client, event, login):
    cancelled = await client.post(f"{API}/bookings/{event['id']}/cancel", json={"reason": "Moved away"},
                                  headers=await login(ADMIN))
    assert cancelled.status_code == 200 and cancelled.json()["refund_owed_cents"] == 10000

    detail, item = await _as(client, login, CHEF, event)
    admin_detail, _ = await _as(client, login, ADMIN, event)

    for view in (detail, item):
        assert not PAYMENT_FIELDS & view.keys(), view.keys() & PAYMENT_FIELDS
        assert view["balance_due_cents"] is None
        assert view["allergies"] == "none" and view["party"]["adults"] == 12  # what the chef needs is there
    assert detail["history"] and not _money_in_history(detail)
    assert [e["action"] for e in detail["history"]] == [e["action"] for e in admin_detail["history"]]
    # Those who may read payments still see everything.
    assert admin_detail["paid_cents"] == 10000 and admin_detail["refund_owed_cents"] == 10000
    assert _money_in_history(admin_detail)


async def test_a_chef_sees_what_to_collect_where_chefs_collect_balances(client, event, station, login, make_user):
    await make_user(ROOT, Role.super_admin)
    switched = await client.patch(f"{API}/stations/{station.id}", json={"chefs_collect_balance": True},
                                  headers=await login(ROOT))
    assert switched.status_code == 200 and switched.json()["chefs_collect_balance"] is True

    detail, item = await _as(client, login, CHEF, event)
    admin_detail, _ = await _as(client, login, ADMIN, event)

    assert admin_detail["balance_due_cents"] == event["quote"]["total_cents"] - 10000
    assert detail["balance_due_cents"] == item["balance_due_cents"] == admin_detail["balance_due_cents"]
    assert not PAYMENT_FIELDS & detail.keys() and not _money_in_history(detail)


async def test_the_station_setting_refuses_a_non_boolean_and_changes_nothing(client, station, login, make_user):
    await make_user(ROOT, Role.super_admin)
    headers = await login(ROOT)

    refused = await client.patch(f"{API}/stations/{station.id}", json={"chefs_collect_balance": "yes"},
                                 headers=headers)

    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "body.chefs_collect_balance"
    assert (await client.get(f"{API}/stations/{station.id}", headers=headers)).json()["chefs_collect_balance"] is False


async def test_the_chefs_booking_page_shows_money_only_to_collect(client, event, station, login, make_user,
                                                                   admin_sign_in):
    page = f"/admin/bookings/{event['id']}"
    balance = format_money(event["quote"]["total_cents"] - 10000)
    await admin_sign_in(CHEF)

    before = read(await client.get(page))
    await make_user(ROOT, Role.super_admin)
    await client.patch(f"{API}/stations/{station.id}", json={"chefs_collect_balance": True}, headers=await login(ROOT))
    after = read(await client.get(page))

    for shown in (before, after):
        assert shown.response.status_code == 200 and "Allergies" in shown.text
        for hidden in ("Paid (less refunds)", "Payments and refunds", "Total due", "Messages", "Deposit received"):
            assert hidden not in shown.text, hidden
    assert "To collect at the event" not in before.text
    assert f"To collect at the event</dt><dd><strong>{balance}" in after.text

    await client.post(f"{API}/bookings/{event['id']}/cancel", json={"reason": "Moved away"}, headers=await login(ADMIN))
    cancelled = read(await client.get(page))
    assert cancelled.response.status_code == 200 and "Moved away" in cancelled.text
    assert "Refund owed" not in cancelled.text and "refund owed" not in cancelled.text
