"""What the thread tests share: a person known by email and phone writing by SMS to station FRE (their thread), staff
of each role there, and the station's rules changed through the rules editor's API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from myhibachi.auth.permissions import Role
from myhibachi.contacts.commands import Identity, find_or_create_contact
from myhibachi.inbox import commands
from myhibachi.inbox.commands import Inbound
from myhibachi.inbox.models import Channel, Conversation

API = "/api/v1"
PHONE, EMAIL = "+15105550142", "dana@example.com"
# The venue the party is priced and held at (Fremont: inside the station's free miles).
VENUE = {"line1": "4100 Mowry Ave", "city": "Fremont", "state": "CA", "zip_code": "94538"}


@pytest.fixture
async def thread(db, station) -> Conversation:  # noqa: ANN001
    """Dana's SMS thread at FRE: she is a contact with an email and a phone, and has asked for a price."""
    async with db.transaction() as session:
        await find_or_create_contact(session, Identity(email=EMAIL, phone=PHONE), name="Dana Lee")
        received = await commands.receive(session, Inbound(channel=Channel.sms, provider_message_id="SM-ask",
                                                           body="How much for 10 adults?", phone=PHONE))
    assert received is not None
    return received.conversation


@pytest.fixture
def staff_of(station, make_user, login) -> Callable[[Role], Awaitable[dict[str, str]]]:  # noqa: ANN001
    """The auth header of a new member of FRE with the role."""

    async def sign_in(role: Role) -> dict[str, str]:
        await make_user(f"{role.value}@fre.example.com", role, station, name=f"{role.value.title()} of FRE")
        return await login(f"{role.value}@fre.example.com")

    return sign_in


@pytest.fixture
def change_rules(client, admin) -> Callable[..., Awaitable[dict[str, Any]]]:  # noqa: ANN001
    """Changes some of a station's rules as an admin does in the rules editor (PUT of the whole document)."""

    async def change(station_id: int, **values: Any) -> dict[str, Any]:
        rules = (await client.get(f"{API}/stations/{station_id}/rules", headers=admin)).json()
        response = await client.put(f"{API}/stations/{station_id}/rules", headers=admin, json={**rules, **values})
        assert response.status_code == 200, response.text
        return response.json()

    return change
