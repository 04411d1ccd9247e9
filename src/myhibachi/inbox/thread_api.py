"""Staff routes inside a thread (SPEC §7): canned replies, the quote and deposit link sent in the conversation, and
who is late to answer. Every one needs `engagement` at the station (the hold also `bookings.write`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from myhibachi.auth.dependencies import CurrentPrincipal, require
from myhibachi.auth.permissions import P
from myhibachi.auth.principal import Principal
from myhibachi.core.errors import problem_responses
from myhibachi.core.web import DbSession, PathId, RuntimeDep
from myhibachi.inbox import canned, clocks, quotes
from myhibachi.inbox.canned import CannedReplyCreate, CannedReplyRead, CannedReplyUpdate, RenderedCannedReply
from myhibachi.inbox.clocks import ConversationClockRead
from myhibachi.inbox.quotes import ThreadQuote, ThreadQuoteSent

staff = APIRouter(tags=["inbox"])
StationQuery = Annotated[int, Query(ge=1, le=2**31 - 1)]
Engagement = Annotated[Principal, require(P.engagement)]


@staff.get("/canned-replies", summary="Canned replies", response_model=list[CannedReplyRead],
           responses=problem_responses(401, 403, 404, 422))
async def list_canned_replies(principal: Engagement, session: DbSession,
                              station_id: StationQuery | None = None) -> list[CannedReplyRead]:
    """The station's replies and those for every station (without `station_id`: of every station you work the
    inbox at), by title, with their placeholders unfilled."""
    return [CannedReplyRead.of(reply) for reply in await canned.list_canned_replies(session, principal, station_id)]


@staff.post("/canned-replies", summary="Write a canned reply", status_code=status.HTTP_201_CREATED,
            response_model=CannedReplyRead, responses=problem_responses(401, 403, 404, 422))
async def create_canned_reply(body: CannedReplyCreate, principal: CurrentPrincipal,
                              session: DbSession) -> CannedReplyRead:
    """`engagement` at the station; a reply for every station (`station_id` null) is the super admin's. The body
    may name the station's rules: {deposit}, {minimum}, {travel_free_miles}, {travel_per_mile}, {station},
    {deposit_hours} and the others of `PLACEHOLDERS`; any other placeholder is 422 on `body.body`."""
    return CannedReplyRead.of(await canned.create_canned_reply(session, principal, body))


@staff.patch("/canned-replies/{reply_id}", summary="Change a canned reply", response_model=CannedReplyRead,
             responses=problem_responses(401, 403, 404, 422))
async def update_canned_reply(reply_id: PathId, body: CannedReplyUpdate, principal: CurrentPrincipal,
                              session: DbSession) -> CannedReplyRead:
    """Only the fields sent change; a body is checked as when written (422 for an unknown placeholder)."""
    return CannedReplyRead.of(await canned.update_canned_reply(session, principal, reply_id, body))


@staff.delete("/canned-replies/{reply_id}", summary="Delete a canned reply", status_code=status.HTTP_204_NO_CONTENT,
              responses=problem_responses(401, 403, 404, 422))
async def delete_canned_reply(reply_id: PathId, principal: CurrentPrincipal, session: DbSession) -> None:
    """Gone for everyone at its station (audited); 404 for another station's."""
    await canned.delete_canned_reply(session, principal, reply_id)


@staff.get("/conversations/{conversation_id}/canned-replies", summary="Canned replies for a thread",
           response_model=list[RenderedCannedReply], responses=problem_responses(401, 403, 404, 422))
async def rendered_canned_replies(conversation_id: PathId, principal: CurrentPrincipal,
                                  session: DbSession) -> list[RenderedCannedReply]:
    """Each with `rendered`: the body filled in with the conversation's station's rules as they are now."""
    found = await canned.canned_replies_for_conversation(session, principal, conversation_id)
    return [RenderedCannedReply(**CannedReplyRead.of(item.reply).model_dump(), rendered=item.rendered)
            for item in found]


@staff.post("/conversations/{conversation_id}/quote", summary="Send a quote (and a deposit link) in the thread",
            status_code=status.HTTP_201_CREATED, response_model=ThreadQuoteSent,
            responses=problem_responses(401, 403, 404, 409, 422))
async def send_quote(conversation_id: PathId, body: ThreadQuote, principal: CurrentPrincipal, session: DbSession,
                     runtime: RuntimeDep) -> ThreadQuoteSent:
    """Prices the party with the site's quote function and sends it as your reply. With `event_date` and
    `slot_time` (and `venue`, `allergies`) it also holds the date for the conversation's person, as the booking
    form does (`bookings.write`; 409 `slot_unavailable`, 422 `insufficient_notice`…), and the reply carries the
    deposit link. The person's open lead (made if none) and the booking are linked to the conversation and the lead
    moves to `quoted`. 422 `outside_service_area` / `unknown_zip`; 409 `window_closed` outside Meta's window.
    Refused, nothing is held, linked or sent."""
    sent = await quotes.send_quote(session, runtime.settings, principal, conversation_id, body)
    return quotes.sent_view(sent)


@staff.get("/inbox/late", summary="Who is late to answer", response_model=list[ConversationClockRead],
           responses=problem_responses(401, 403, 404, 422))
async def late_conversations(station_id: StationQuery, _: Engagement,
                             session: DbSession) -> list[ConversationClockRead]:
    """The station's unresolved conversations whose answer is overdue (first response or next response, counted
    in the station's inbox hours) or whose held booking lapses unpaid within the hour: lapsing holds first, then
    the most overdue."""
    return [ConversationClockRead.of(clock) for clock in await clocks.late_conversations(session, station_id)]
