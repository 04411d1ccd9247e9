"""What the consent tests share: the booking fixtures (frozen clock, a station with chefs), staff who work its leads,
and readers of the ledger and of the confirmation emails."""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from myhibachi.auth.permissions import Role
from myhibachi.consent.models import ConsentEvent
from myhibachi.contacts.commands import Identity, find_contact
from tests.bookings.conftest import add_chefs, book, clock, station  # noqa: F401
from tests.conftest import mail_text, read_mails

API = "/api/v1"
LINK = re.compile(r"http://testserver/subscribe/confirm/(\S+)")


@pytest.fixture
async def support(station, make_user, login):  # noqa: ANN001, ANN201, F811
    await make_user("support@example.com", Role.support, station, name="Sam Support")
    return await login("support@example.com")


async def ledger(db, email: str) -> list[tuple[str, str]]:  # noqa: ANN001
    """(action, source) of the address's contact's events, oldest first ([] without a contact)."""
    async with db.transaction(write=False) as session:
        contact = await find_contact(session, Identity(email=email))
        if contact is None:
            return []
        return [(e.action, e.source) for e in await session.scalars(
            select(ConsentEvent).where(ConsentEvent.contact_id == contact.id).order_by(ConsentEvent.id))]


async def all_events(db) -> list[ConsentEvent]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return list(await session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)))


def confirmation_mails(settings, to: str) -> list[EmailMessage]:  # noqa: ANN001
    return [m for m in read_mails(settings) if m["To"] == to and "confirm" in str(m["Subject"]).lower()]


def link_in(message: EmailMessage) -> str:
    found = LINK.search(mail_text(message))
    assert found, mail_text(message)
    return found.group(0)
