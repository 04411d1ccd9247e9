"""What a booking has paid, as the payments ledger says. Bookings sits below payments and may not import it, so
payments provides the reader here when it is loaded (the application always loads it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class PaymentLine:
    purpose: str
    method: str
    amount_cents: int
    refunded_cents: int
    received_at: datetime | None


@dataclass(frozen=True)
class BookingLedger:
    paid_cents: int = 0  # payments that succeeded
    refunded_cents: int = 0  # refunds not failed (pending ones are on their way back)
    payments: list[PaymentLine] = field(default_factory=list)

    @property
    def net_paid_cents(self) -> int:
        return self.paid_cents - self.refunded_cents


LedgerReader = Callable[[AsyncSession, list[int]], Awaitable[dict[int, BookingLedger]]]
_reader: list[LedgerReader] = []


def provide_ledger(reader: LedgerReader) -> None:
    _reader[:] = [reader]


async def booking_ledgers(session: AsyncSession, booking_ids: list[int]) -> dict[int, BookingLedger]:
    """Each booking's ledger (an empty one when nothing was paid)."""
    if not _reader:
        raise RuntimeError("the payments domain has not provided its ledger (import myhibachi.payments.queries)")
    found = await _reader[0](session, booking_ids)
    return {booking_id: found.get(booking_id, BookingLedger()) for booking_id in booking_ids}


async def booking_ledger(session: AsyncSession, booking_id: int) -> BookingLedger:
    return (await booking_ledgers(session, [booking_id]))[booking_id]
