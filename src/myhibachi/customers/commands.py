"""Finding or creating the customer behind a booking."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.core.db import utcnow
from myhibachi.core.text import normalize_email
from myhibachi.customers.models import Customer


async def find_or_create_customer(session: AsyncSession, *, email: str, name: str, phone: str) -> Customer:
    """The customer with this (normalized) email; `name` and `phone` are stored only when it is new. Anyone can type
    any address into a public form, so an existing customer's details change only through staff or a verified link.

    INSERT … ON CONFLICT DO NOTHING: two first bookings with one email at once both find the same row."""
    email = normalize_email(email)
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    await session.execute(insert(Customer).values(email=email, name=name, phone=phone, created_at=now,
                                                  updated_at=now).on_conflict_do_nothing(index_elements=["email"]))
    customer = await session.scalar(select(Customer).where(Customer.email == email))
    assert customer is not None
    return customer
