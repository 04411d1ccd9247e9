"""Inbox routes (SPEC §7 "Inbox"): the conversations of the stations where the caller works the inbox
(`engagement`), a thread with its messages, a reply or private note, status and assignment, read marks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from myhibachi.auth.dependencies import CurrentPrincipal
from myhibachi.core.errors import problem_responses
from myhibachi.core.web import DbSession, PathId
from myhibachi.inbox import commands, queries
from myhibachi.inbox.models import Channel, ConversationStatus
from myhibachi.inbox.schemas import (
    ConversationDetail,
    ConversationPage,
    ConversationRead,
    ConversationUpdate,
    MessageCreate,
    MessageRead,
)

staff = APIRouter(prefix="/conversations", tags=["inbox"])
Id = Annotated[int, Query(ge=1, le=2**62)]


@staff.get("", summary="Conversations", response_model=ConversationPage,
           responses=problem_responses(401, 403, 404, 422))
async def list_conversations(principal: CurrentPrincipal, session: DbSession, station_id: Id | None = None,
                             status_: Annotated[ConversationStatus | None, Query(alias="status")] = None,
                             channel: Channel | None = None, assignee_id: Id | None = None,
                             unassigned: bool = False, contact_id: Id | None = None,
                             label: Annotated[str | None, Query(max_length=40)] = None,
                             late: bool = False, wants_person: bool = False,
                             cursor: Annotated[str | None, Query(max_length=200)] = None,
                             limit: Annotated[int, Query(ge=1, le=200)] = 50) -> ConversationPage:
    """Latest activity first. `unassigned` keeps those nobody owns; `assignee_id` those of one staff member;
    `contact_id` one person's threads (one per channel and station); `label` those with the label; `late` those
    whose answer is overdue or whose hold lapses within the hour; `wants_person` the web chats whose assistant asked
    for a person that nobody has taken yet."""
    filters = queries.ConversationFilters(station_id=station_id, status=status_, channel=channel,
                                          assignee_id=assignee_id, unassigned=unassigned, contact_id=contact_id,
                                          label=label, late=late, wants_person=wants_person)
    items, next_cursor = await queries.list_conversations(session, principal, filters, cursor=cursor, limit=limit)
    return ConversationPage(items=items, next_cursor=next_cursor)


@staff.get("/{conversation_id}", summary="A conversation and its messages", response_model=ConversationDetail,
           responses=problem_responses(401, 404, 422))
async def get_conversation(conversation_id: PathId, principal: CurrentPrincipal,
                           session: DbSession) -> ConversationDetail:
    """The thread, oldest message first: inbound, outbound (with how far each got) and private notes."""
    return await queries.conversation_detail(session, principal, conversation_id)


@staff.post("/{conversation_id}/messages", summary="Reply, or add a private note", status_code=status.HTTP_201_CREATED,
            response_model=MessageRead, responses=problem_responses(401, 404, 409, 422))
async def post_message(conversation_id: PathId, body: MessageCreate, principal: CurrentPrincipal,
                       session: DbSession) -> MessageRead:
    """A reply goes out through the conversation's channel (`delivery` shows its way); a private note goes nowhere.
    Messenger/Instagram: 409 `window_closed` outside Meta's window, saying what still works."""
    message = await commands.reply(session, principal, conversation_id, body.body, private=body.private,
                                   human_agent=body.human_agent)
    return MessageRead(id=message.id, direction=message.direction, sender=message.sender, author=principal.name,
                       body=message.body, private=message.private, at=message.at, delivery=message.delivery,
                       tag=message.tag)


@staff.patch("/{conversation_id}", summary="Status, assignment and labels", response_model=ConversationRead,
             responses=problem_responses(401, 404, 422))
async def update_conversation(conversation_id: PathId, body: ConversationUpdate, principal: CurrentPrincipal,
                              session: DbSession) -> ConversationRead:
    """Open, pending (waiting for the person) or resolved; assign to someone who works the inbox at the station
    (422 otherwise), or `unassign`; `labels` replaces the set (at most 20, kept in lower case)."""
    await commands.update_conversation(session, principal, conversation_id, status=body.status,
                                       assignee_id=body.assignee_id, unassign=body.unassign, labels=body.labels)
    return _summary(await queries.conversation_detail(session, principal, conversation_id))


@staff.post("/{conversation_id}/read", summary="Mark read", response_model=ConversationRead,
            responses=problem_responses(401, 404, 422))
async def mark_read(conversation_id: PathId, principal: CurrentPrincipal, session: DbSession) -> ConversationRead:
    """Unread back to 0 (replying does it too)."""
    await commands.mark_read(session, principal, conversation_id)
    return _summary(await queries.conversation_detail(session, principal, conversation_id))


@staff.post("/{conversation_id}/take-over", summary="Take a chat over from the assistant",
             response_model=ConversationRead, responses=problem_responses(401, 404, 409, 422))
async def take_over(conversation_id: PathId, principal: CurrentPrincipal, session: DbSession) -> ConversationRead:
    """You answer from now on (it is assigned to you) and the assistant says nothing more; the visitor sees that a
    person joined. Of two people taking at once one wins: the other gets 409 `already_taken`."""
    await commands.take_over(session, principal, conversation_id)
    return _summary(await queries.conversation_detail(session, principal, conversation_id))


@staff.post("/{conversation_id}/hand-back", summary="Hand a chat back to the assistant",
            response_model=ConversationRead, responses=problem_responses(401, 404, 409, 422))
async def hand_back(conversation_id: PathId, principal: CurrentPrincipal, session: DbSession) -> ConversationRead:
    """The website assistant answers again and tells the visitor so; the conversation stays assigned for follow-up.
    409 `not_taken` when the assistant has it already; 422 on a channel without the assistant."""
    await commands.hand_back(session, principal, conversation_id)
    return _summary(await queries.conversation_detail(session, principal, conversation_id))


def _summary(detail: ConversationDetail) -> ConversationRead:
    return ConversationRead(**detail.model_dump(exclude={"messages"}))
