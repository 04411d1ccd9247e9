"""Background work of the payments domain: what it does when a lower domain records an event."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.bookings.commands import BOOKING_CANCELLED
from myhibachi.core.outbox import OutboxContext, outbox_handler
from myhibachi.payments.commands import settle_cancellation
from myhibachi.payments.gateway import card_gateway


@outbox_handler(BOOKING_CANCELLED)
async def settle_cancelled_booking(session: AsyncSession, payload: dict[str, Any], context: OutboxContext) -> None:
    """Withdraw the cancelled booking's open card intents and pay back what its cancellation policy owes."""
    await settle_cancellation(session, context.settings, card_gateway(context.settings), payload["booking_id"],
                              payload["refund_cents"])
