"""Rows written straight to the database, for tests that need a booking in a given state without the API."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.contacts.commands import Identity, find_or_create_contact
from myhibachi.core.db import Database
from myhibachi.core.security import hash_token
from myhibachi.pricing.quote import PartyOrder, quote_event
from myhibachi.pricing.rules import DEFAULT_RULES
from myhibachi.pricing.schemas import QuoteRead
from myhibachi.stations.models import Station


async def insert_booking(db: Database, station: Station, start: datetime, *,
                         status: BookingStatus = BookingStatus.confirmed, chef_id: int | None = None,
                         adults: int = 10, email: str | None = None, **fields: Any) -> int:
    """A booking at `start` (aware) with the default rules' event and busy windows; returns its id."""
    rules = DEFAULT_RULES
    local = start.astimezone(ZoneInfo(station.timezone))
    end = start + timedelta(minutes=rules.event_length_minutes(adults))
    quote = QuoteRead.of(quote_event(rules, PartyOrder(adults=adults), travel_miles=Decimal(5)))
    async with db.transaction() as session:
        email = email or f"guest-{secrets.token_hex(4)}@example.com"
        customer = await find_or_create_contact(session, Identity(email=email, phone="+15105550142"), name="Guest")
        columns: dict[str, Any] = dict(
            reference="MH-" + secrets.token_hex(3).upper(), station_id=station.id, customer_id=customer.id,
            status=status.value, event_date=local.date(), slot_time=local.strftime("%H:%M"), event_start=start,
            event_end=end, busy_start=start - timedelta(minutes=rules.busy_before_minutes),
            busy_end=end + timedelta(minutes=rules.busy_after_minutes), chef_id=chef_id, adults=adults, children=0,
            toddlers=0, upgrades={}, extra_proteins={}, addons={}, quote=quote.model_dump(mode="json"),
            fees_cents=0, venue_line1="1 Test St", venue_city="Fremont", venue_state="CA", venue_zip="94538",
            contact_name="Guest", contact_email=email.lower(), contact_phone="+15105550142",
            allergies="none", manage_nonce=secrets.token_hex(16), manage_token_hash=hash_token(secrets.token_hex(8)),
            hold_expires_at=start - timedelta(days=1) if status is BookingStatus.pending_deposit else None,
            confirmed_at=start - timedelta(days=2) if status is BookingStatus.confirmed else None,
            reschedule_count=0)
        booking = Booking(**(columns | fields))
        session.add(booking)
        await session.flush()
        return booking.id
