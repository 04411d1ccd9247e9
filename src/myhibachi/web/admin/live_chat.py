"""The live chat widget of every admin page (static/js/admin-chat.js), for staff who work the inbox: the website
chats assigned to the viewer with their unread counts, a short thread and a reply box, as HTML fragments the widget
puts in place whenever `/ws/staff` tells of a change. A reply goes through the inbox's reply command, as the inbox
page's does; reading and permissions are the inbox's queries' (another station's chat is not found)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from myhibachi.auth.queries import user_names
from myhibachi.core.templating import render
from myhibachi.core.web import PathId
from myhibachi.inbox import commands, queries
from myhibachi.inbox.models import Channel
from myhibachi.inbox.schemas import ConversationRead
from myhibachi.stations.queries import get_station
from myhibachi.web.admin.inbox import DELIVERY_WORDS, answering_words
from myhibachi.web.admin.leads import local_time
from myhibachi.web.admin.pages import AdminVisit, Trouble, Visit, form_state, submit
from myhibachi.web.admin.render import staff_stations
from myhibachi.web.admin.session import admin_csrf_token
from myhibachi.web.forms import CSRF_FIELD

router = APIRouter(include_in_schema=False)
SHOWN_CHATS = 20
SHOWN_MESSAGES = 30  # the latest; the inbox has the whole thread


def _fragment(visit: Visit, template: str, *, status: int = 200, **context: Any) -> Response:
    html = render(f"admin/{template}", csrf_field=CSRF_FIELD, csrf_token=admin_csrf_token(visit.request),
                  delivery_words=DELIVERY_WORDS, **context)
    return visit.send(HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"}))


async def _my_chats(visit: Visit) -> list[ConversationRead]:
    """The viewer's website chats not resolved, latest activity first, at every station where they work the inbox."""
    chats, _ = await queries.list_conversations(visit.session, visit.principal, queries.ConversationFilters(
        channel=Channel.web_chat, assignee_id=visit.principal.user_id, unresolved=True), limit=SHOWN_CHATS)
    return chats


@router.get("/admin/live-chat", response_class=HTMLResponse)
async def my_chats(visit: AdminVisit) -> Response:
    """The widget's list (its unread total in `data-unread`)."""
    chats = await _my_chats(visit)
    zones = {station.id: station.timezone for station in await staff_stations(visit.session, visit.principal)}

    def when(chat: ConversationRead) -> str:
        return local_time(chat.last_message_at, zones.get(chat.station_id, "UTC"))

    return _fragment(visit, "_live_chat_list.html", chats=chats, unread=sum(chat.unread for chat in chats),
                     when=when)


async def _thread(visit: Visit, conversation_id: int, trouble: Trouble | None = None,
                  form: dict[str, str] | None = None) -> Response:
    detail = await queries.conversation_detail(visit.session, visit.principal, conversation_id)
    station = await get_station(visit.session, detail.station_id)
    names = await user_names(visit.session, {detail.assignee_id} if detail.assignee_id else set())
    owners = {user_id: name for user_id, (name, _) in names.items()}

    def when(moment: datetime) -> str:
        return local_time(moment, station.timezone)

    state = form_state(trouble)
    return _fragment(visit, "_live_chat_thread.html", status=state.pop("status"), conversation=detail,
                     messages=detail.messages[-SHOWN_MESSAGES:], station=station, when=when,
                     answering=answering_words(detail, visit.principal.user_id, owners), values=form or {}, **state)


@router.get("/admin/live-chat/{conversation_id}", response_class=HTMLResponse)
async def chat_thread(conversation_id: PathId, visit: AdminVisit) -> Response:
    """A chat's latest messages and the reply box."""
    return await _thread(visit, conversation_id)


@router.post("/admin/live-chat/{conversation_id}/messages", response_class=HTMLResponse)
async def reply(conversation_id: PathId, visit: AdminVisit) -> Response:
    """The reply box's: the inbox's reply command, answered with the thread (a refused reply: beside the box)."""
    async def act(form: dict[str, str]) -> Response:
        await commands.reply(visit.session, visit.principal, conversation_id, form.get("body", ""))
        return await _thread(visit, conversation_id)

    return await submit(visit, act=act, show=lambda form, trouble: _thread(visit, conversation_id, trouble, form),
                        names={"": "body"})
