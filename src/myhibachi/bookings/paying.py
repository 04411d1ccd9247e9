"""How the customer can pay a booking (amount due now, by when, the handles to send to), as the payments domain says.
Bookings sits below payments and may not import it, yet its "we're holding your date" email must carry the same
instructions as every page: payments provides the reader here when it is loaded (the application always loads it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.bookings.models import Booking
from myhibachi.settings import Settings

# The payments domain's `queries.payment_options`: what the email templates render (email/_how_to_pay.*).
InstructionsReader = Callable[[AsyncSession, Settings, Booking], Awaitable[Any]]
_reader: list[InstructionsReader] = []


def provide_payment_instructions(reader: InstructionsReader) -> None:
    _reader[:] = [reader]


async def payment_instructions(session: AsyncSession, settings: Settings, booking: Booking) -> Any:  # noqa: ANN401
    if not _reader:
        raise RuntimeError("the payments domain has not provided its instructions (import myhibachi.payments.queries)")
    return await _reader[0](session, settings, booking)
