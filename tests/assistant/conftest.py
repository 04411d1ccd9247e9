"""What the assistant's tests share: the booking fixtures (frozen clock, station FRE with two chefs) and a visitor
chatting with the assistant through the real path — the message received in a unit of work whose outbox runs the
reply job at once (jobs run inline in tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from myhibachi.core.runtime import Runtime
from myhibachi.inbox.models import Conversation, Message
from myhibachi.inbox.web_chat import receive_visitor_message
from myhibachi.stations.models import Station
from tests.assistant.fake_model import fake_model  # noqa: F401
from tests.bookings.conftest import NOW, add_chefs, book, clock, station  # noqa: F401
from tests.inbox.conftest import admin_principal  # noqa: F401


@dataclass
class Chat:
    runtime: Runtime
    station: Station
    visitor: str = "visitor-1"
    conversation_id: int | None = None
    said: list[int] = field(default_factory=list)

    async def send(self, body: str) -> int:
        """The visitor's message, received and committed (its reply job runs after the commit); its id."""
        async with self.runtime.jobs.unit_of_work() as session:
            received = await receive_visitor_message(session, self.visitor, None, body, station_id=self.station.id)
            assert received is not None
            self.conversation_id = received.conversation.id
            self.said.append(received.message.id)
            return received.message.id

    async def say(self, body: str) -> str:
        """The visitor's message and the assistant's one reply to it."""
        before = len(await self.bot_messages())
        await self.send(body)
        replies = (await self.bot_messages())[before:]
        assert len(replies) == 1, [reply.body for reply in replies]
        return replies[0].body

    async def bot_messages(self) -> list[Message]:
        if self.conversation_id is None:
            return []
        async with self.runtime.db.transaction(write=False) as session:
            return list(await session.scalars(select(Message).where(
                Message.conversation_id == self.conversation_id, Message.sender == "bot").order_by(Message.id)))

    async def conversation(self) -> Conversation:
        async with self.runtime.db.transaction(write=False) as session:
            found = await session.get(Conversation, self.conversation_id)
            assert found is not None
            return found


@pytest.fixture
def chat(runtime, station) -> Chat:  # noqa: ANN001, F811
    return Chat(runtime, station)
