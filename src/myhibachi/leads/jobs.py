"""Lead work done by jobs: a lead is won when its contact's booking has its deposit (the bookings domain's outbox
message)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.bookings.commands import BOOKING_CONFIRMED
from myhibachi.core.outbox import OutboxContext, outbox_handler
from myhibachi.leads import commands


@outbox_handler(BOOKING_CONFIRMED)
async def win_the_lead(session: AsyncSession, payload: dict[str, Any], _: OutboxContext) -> None:
    await commands.win_by_booking(session, int(payload["booking_id"]))
