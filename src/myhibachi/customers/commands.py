"""Finding or creating the customer behind a booking."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.core.db import utcnow
from myhibachi.customers.models import Customer


async def find_or_create_customer(session: AsyncSession, *, email: str, name: str, phone: str) -> Customer:
    """The customer with this email (case-insensitive), keeping the latest name and phone they gave us.

    INSERT … ON CONFLICT DO NOTHING: two first bookings with one email at once both find the same row."""
    email = email.strip().lower()
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    await session.execute(insert(Customer).values(email=email, name=name, phone=phone, created_at=now,
                                                  updated_at=now).on_conflict_do_nothing(index_elements=["email"]))
    customer = await session.scalar(select(Customer).where(Customer.email == email))
    assert customer is not None
    customer.name, customer.phone = name, phone
    await session.flush()
    return customer
