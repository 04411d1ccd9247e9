"""What the newsletter tests share: the booking fixtures (frozen clock 2026-12-01 16:00 UTC, station FRE with chefs),
staff of the station (an admin who sends, support who reads), people who may receive marketing, and a recorder of
the campaigns handed to the sending job (the delivery's own handler is tested with the delivery)."""

from __future__ import annotations

import pytest

from myhibachi.auth.permissions import Role
from myhibachi.consent.commands import record_consent
from myhibachi.consent.models import ConsentAction, ConsentSource
from myhibachi.contacts.commands import Identity, find_or_create_contact
from myhibachi.core import outbox
from myhibachi.newsletters.sending import CAMPAIGN_DUE_TOPIC
from tests.bookings.conftest import add_chefs, book, clock, station  # noqa: F401

API = "/api/v1"


@pytest.fixture
async def admin(station, make_user, login):  # noqa: ANN001, ANN201, F811
    await make_user("admin@example.com", Role.admin, station, name="Ada Admin")
    return await login("admin@example.com")


@pytest.fixture
async def support(station, make_user, login):  # noqa: ANN001, ANN201, F811
    await make_user("support@example.com", Role.support, station, name="Sam Support")
    return await login("support@example.com")


async def subscriber(db, email: str, station_id: int | None = None, *,  # noqa: ANN001
                     action: ConsentAction = ConsentAction.confirmed) -> int:
    """A contact whose latest email-marketing consent is `action` (recorded at `station_id`)."""
    async with db.transaction() as session:
        contact = await find_or_create_contact(session, Identity(email=email), name=email.split("@")[0].title())
        await record_consent(session, contact.id, ConsentAction.granted, ConsentSource.footer_form,
                             station_id=station_id)
        if action != ConsentAction.granted:
            await record_consent(session, contact.id, ConsentAction.confirmed, ConsentSource.confirmation_link,
                                 station_id=station_id)
        if action == ConsentAction.withdrawn:
            await record_consent(session, contact.id, ConsentAction.withdrawn, ConsentSource.unsubscribe,
                                 station_id=station_id)
        return contact.id


@pytest.fixture
def kicked(monkeypatch) -> list[int]:  # noqa: ANN001
    """The campaign ids handed to the sending job, in order (instead of sending them)."""
    started: list[int] = []

    async def record(_session, payload, _context) -> None:  # noqa: ANN001
        started.append(payload["campaign_id"])

    monkeypatch.setitem(outbox._handlers, CAMPAIGN_DUE_TOPIC, record)
    return started
