"""Background work of the identity domain: the password-reset email, sent after the request has answered."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.auth.commands import PASSWORD_RESET_REQUESTED, send_password_reset
from myhibachi.core.outbox import OutboxContext, outbox_handler


@outbox_handler(PASSWORD_RESET_REQUESTED)
async def email_password_reset(session: AsyncSession, payload: dict[str, Any], context: OutboxContext) -> None:
    await send_password_reset(session, context.settings, email=payload["email"])
