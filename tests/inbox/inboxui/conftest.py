"""What the inbox page tests share: a support member of station FRE signed in to the admin pages (`staff`: their
user id), and messages received the way a channel's webhook hands them to the inbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import pytest

from myhibachi.auth.permissions import Role
from myhibachi.contacts.models import HandleKind
from myhibachi.inbox import commands
from myhibachi.inbox.commands import Inbound
from myhibachi.inbox.models import Channel
from tests.conftest import PASSWORD
from tests.web.browserless import read, submit

Receive = Callable[..., Awaitable[int]]


@pytest.fixture
async def staff(client, station, make_user) -> int:  # noqa: ANN001
    """Sam, support at FRE (works the inbox), signed in to the admin pages; their user id."""
    user_id = await make_user("sam@example.com", Role.support, station, name="Sam Support")
    page = await submit(client, read(await client.get("/admin/login")), None, email="sam@example.com",
                        password=PASSWORD)
    assert page.response.status_code == 200, page.text[:500]
    return user_id


@pytest.fixture
def receive(db, station) -> Receive:  # noqa: ANN001
    """A message from a person (by phone, email or a Meta handle) on `channel`; the conversation's id."""
    serial = iter(range(1, 10_000))

    async def received(channel: Channel, sender: str, body: str = "Hi", *, at: datetime | None = None,
                       station_id: int | None = None, **extra: str) -> int:
        identity: dict[str, object] = {"phone": sender} if channel == Channel.sms else \
            {"email": sender} if channel == Channel.email else {"handle": (HandleKind(channel.value), sender)}
        async with db.transaction() as session:
            message = await commands.receive(session, Inbound(
                channel=channel, provider_message_id=f"p-{next(serial)}-{sender}", body=body, at=at,
                station_id=station_id or station.id, **identity, **extra))  # type: ignore[arg-type]
            assert message is not None
            return message.conversation.id

    return received
