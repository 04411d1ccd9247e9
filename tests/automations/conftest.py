"""What the automation tests share: the booking fixtures (a clock frozen at 2026-12-01 08:00 in Fremont, a station
with chefs), running the automations as the periodic task does, rows in the past, consent, and reading the
emails they sent and the enrollments they made."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select

from myhibachi.automations.jobs import run_automations
from myhibachi.automations.models import Automation, AutomationMessage, Enrollment
from myhibachi.bookings.models import BookingStatus
from myhibachi.consent.commands import record_consent
from myhibachi.consent.models import ConsentAction, ConsentSource
from myhibachi.contacts.commands import Identity, find_or_create_contact
from myhibachi.core.db import Database
from tests.bookings.conftest import NOW, add_chefs, book, clock, station  # noqa: F401
from tests.conftest import read_mails
from tests.factories import insert_booking
from tests.web.conftest import admin_sign_in  # noqa: F401

API = "/api/v1"


@pytest.fixture
async def live(runtime, station, clock):  # noqa: ANN001, ANN201, F811
    """The station's automations made (live from NOW), as the first periodic run makes them."""
    assert await run_automations(runtime.jobs) == 0
    return station


async def run(runtime, at: datetime | None = None, clock=None) -> int:  # noqa: ANN001, F811
    """The periodic task once (at `at`, travelling there first); the number of emails it queued."""
    if at is not None:
        clock.move_to(at)
    return await run_automations(runtime.jobs)


def mails_to(settings, address: str) -> list[EmailMessage]:  # noqa: ANN001
    return [m for m in read_mails(settings) if m["To"] == address]


async def enrollments(db: Database, kind: str | None = None) -> list[Enrollment]:
    async with db.transaction(write=False) as session:
        stmt = select(Enrollment).join(Automation, Automation.id == Enrollment.automation_id).order_by(Enrollment.id)
        if kind is not None:
            stmt = stmt.where(Automation.kind == kind)
        return list(await session.scalars(stmt))


async def messages(db: Database) -> list[AutomationMessage]:
    async with db.transaction(write=False) as session:
        return list(await session.scalars(select(AutomationMessage).order_by(AutomationMessage.id)))


async def past_event(db: Database, station, ended: datetime, *, email: str,  # noqa: ANN001, F811
                     status: BookingStatus = BookingStatus.completed, **fields: Any) -> int:
    """A booking whose event ended at `ended` (90 minutes long), completed unless said otherwise."""
    return await insert_booking(db, station, ended - timedelta(minutes=90), status=status, email=email,
                                contact_name=fields.pop("contact_name", "Dana Lee"), **fields)


async def subscribed(db: Database, email: str) -> int:
    """A contact whose email marketing is confirmed (double opt-in done)."""
    async with db.transaction() as session:
        contact = await find_or_create_contact(session, Identity(email=email), name="Subscriber")
        await record_consent(session, contact.id, ConsentAction.granted, ConsentSource.footer_form)
        await record_consent(session, contact.id, ConsentAction.confirmed, ConsentSource.confirmation_link)
        return contact.id
