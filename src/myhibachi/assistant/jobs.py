"""The assistant answering a website chat: a visitor's message to a chat the assistant handles queues the outbox topic
`assistant.reply`; once that commits, the reply is composed from a read-only snapshot, holding no lock (an optional
model may take seconds, and a person may take the chat meanwhile), then posted in one transaction under the
conversation's lock, only if the assistant still handles it (a person who took it wins: the reply is dropped), with
the tools that change something and the chat's memory. The memory's `answered_message_id` makes a message answered
once however often this runs; a periodic sweep answers a message whose reply a dying process lost (within ten
minutes)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.assistant import model
from myhibachi.assistant.dialogue import INTRO, Draft, compose, read_message, rule_handoff
from myhibachi.assistant.models import AssistantMemory
from myhibachi.assistant.tools import TOOLS, ChatState, Turn
from myhibachi.core.db import utcnow
from myhibachi.core.jobs import JobQueue, outbox_follow_up, periodic_task
from myhibachi.core.outbox import OutboxContext, add_outbox_message, outbox_handler
from myhibachi.inbox.commands import Received, locked_conversation, on_received, send_system_message
from myhibachi.inbox.live import visitor_channel, visitor_of
from myhibachi.inbox.models import Channel, Conversation, Direction, HandledBy, Message, Sender
from myhibachi.pricing.queries import get_rules
from myhibachi.settings import Settings
from myhibachi.stations.queries import get_station

REPLY_TOPIC = "assistant.reply"
SWEEP_AFTER = timedelta(seconds=30)  # a message unanswered this long lost its reply job
SWEEP_WITHIN = timedelta(minutes=10)  # older than this, the visitor has left: a person follows up instead
log = structlog.get_logger(__name__)


@on_received
async def _queue_reply(session: AsyncSession, received: Received) -> None:
    conversation = received.conversation
    if conversation.channel == Channel.web_chat and conversation.handled_by == HandledBy.bot:
        await add_outbox_message(session, REPLY_TOPIC, {"message_id": received.message.id})


@outbox_handler(REPLY_TOPIC)
async def _reply_queued(_session: AsyncSession, _payload: dict[str, Any], _context: OutboxContext) -> None:
    """Nothing to do inside the outbox's transaction: the reply is composed after it, holding no lock (below)."""


@outbox_follow_up(REPLY_TOPIC)
async def _reply(jobs: JobQueue, payload: dict[str, Any]) -> None:
    await answer_message(jobs, int(payload["message_id"]))


@periodic_task("assistant.unanswered")
async def answer_lost_replies(jobs: JobQueue) -> int:
    """Visitor messages of the last ten minutes that the assistant still handles and has not answered after a while."""
    now = utcnow()
    async with jobs.db.transaction(write=False) as session:
        message_ids = list(await session.scalars(
            select(Message.id).join(Conversation, Conversation.id == Message.conversation_id)
            .outerjoin(AssistantMemory, AssistantMemory.conversation_id == Conversation.id)
            .where(Conversation.channel == Channel.web_chat.value, Conversation.handled_by == HandledBy.bot.value,
                   Message.direction == Direction.inbound.value, Message.at < now - SWEEP_AFTER,
                   Message.at > now - SWEEP_WITHIN,
                   or_(AssistantMemory.answered_message_id.is_(None), Message.id > AssistantMemory.answered_message_id))
            .order_by(Message.id).limit(100)))
    answered = 0
    for message_id in message_ids:
        answered += await answer_message(jobs, message_id) is not None
    return answered


async def answer_message(jobs: JobQueue, message_id: int) -> Message | None:
    """The assistant's reply to one visitor message, posted once; None when it was answered already, or the chat is
    no longer the assistant's."""
    settings, live = jobs.settings, jobs.context.live
    async with jobs.db.session(write=False) as session:
        turn, body, seen = await _turn(session, settings, message_id)
        if turn is None:
            return None
        if live is not None and (visitor := await visitor_of(session, turn.conversation)) is not None:
            await live.publish(visitor_channel(visitor), {"type": "typing", "sender": "bot"})
        draft = await _draft(turn, body)
    async with jobs.unit_of_work() as session:
        conversation = await locked_conversation(session, turn.conversation.id)
        if conversation.handled_by != HandledBy.bot:
            log.info("assistant_reply_dropped", conversation_id=conversation.id, message_id=message_id)
            return None
        memory = await session.get(AssistantMemory, conversation.id, with_for_update=True, populate_existing=True)
        if memory is not None and (memory.answered_message_id or 0) >= message_id:
            return None
        locked = Turn(session, settings, conversation, turn.station, turn.rules, turn.state, turn.facts)
        if (memory.answered_message_id if memory else None) != seen:  # another reply moved the chat on meanwhile
            locked.state = _state(memory)
            draft = await compose(locked, body, read_message(locked, body))
        reply = await _post(locked, draft, first=memory is None)
        _remember(session, memory, conversation.id, locked.state, message_id)
        return reply


async def _turn(session: AsyncSession, settings: Settings,
                message_id: int) -> tuple[Turn | None, str, int | None]:
    """The message's turn as the database has it now; no turn when there is nothing for the assistant to answer."""
    message = await session.get(Message, message_id)
    if message is None or message.direction != Direction.inbound:
        return None, "", None
    conversation = await session.get(Conversation, message.conversation_id)
    if conversation is None or conversation.channel != Channel.web_chat or conversation.handled_by != HandledBy.bot:
        return None, "", None
    memory = await session.get(AssistantMemory, conversation.id)
    seen = memory.answered_message_id if memory else None
    if seen is not None and seen >= message_id:
        return None, "", None
    station = await get_station(session, conversation.station_id)
    rules = await get_rules(session, station.id)
    return Turn(session, settings, conversation, station, rules, _state(memory)), message.body, seen


def _state(memory: AssistantMemory | None) -> ChatState:
    if memory is None:
        return ChatState()
    return ChatState(slots=dict(memory.slots or {}), asked=memory.asked, misses=memory.misses)


async def _draft(turn: Turn, body: str) -> Draft:
    """The optional model's draft for a free question: when one is set, no rule asks for a person and no booking is
    being put together (the built-in dialogue asks for a hold's details one by one and places it on a yes); else
    (or when the model fails) the built-in dialogue's."""
    reading = read_message(turn, body)
    slots = turn.state.slots
    in_a_booking = turn.state.asked is not None or slots.get("booking") or slots.get("want_quote")
    if turn.settings.llm_base_url and rule_handoff(turn, reading) is None and not in_a_booking:
        facts, slots = list(turn.facts), dict(turn.state.slots)
        drafted = await model.model_draft(turn, body, reading)
        if drafted is not None:
            return drafted
        turn.facts, turn.state.slots = facts, slots
    return await compose(turn, body, reading)


async def _post(turn: Turn, draft: Draft, *, first: bool) -> Message:
    """Runs the writing tools under the lock and posts the one reply."""
    thanks, done = [], []  # the visitor's details acknowledged first; a hold or a handoff said last
    for name, args in draft.writes:
        result = await TOOLS[name].run(turn, args)
        if result is not None:
            (thanks if name == "take_details" else done).append(result.text)
    parts = [INTRO.format(brand=turn.settings.brand_name)] if first else []
    parts += thanks + ([draft.phrased] if draft.phrased and not draft.writes else draft.parts) + done
    if draft.question and turn.state.asked:
        parts.append(draft.question)
    return await send_system_message(turn.session, turn.conversation.id, "\n\n".join(parts), sender=Sender.bot)


def _remember(session: AsyncSession, memory: AssistantMemory | None, conversation_id: int, state: ChatState,
              message_id: int) -> None:
    if memory is None:
        memory = AssistantMemory(conversation_id=conversation_id)
        session.add(memory)
    memory.slots, memory.asked, memory.misses = dict(state.slots), state.asked, state.misses
    memory.answered_message_id = message_id
