"""Admin pages of the inbox: the switcher's station's conversations (mine, unassigned, by channel and status, with
their unread counts), a thread beside them (messages, private notes and each reply's way to the person; the
contact's bookings, leads and consent; the reply box with the channel and Meta's window), status and "assign to
me", kept current by the change feed. Every read and change goes through the inbox domain's queries and commands;
a reply the channel refuses (Meta's window) is said beside the reply box."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from myhibachi.auth.queries import user_names
from myhibachi.consent.models import ConsentChannel
from myhibachi.consent.queries import consent_history, consent_state
from myhibachi.core.db import utcnow
from myhibachi.core.errors import DomainError, ValidationFailed
from myhibachi.core.web import PathId
from myhibachi.inbox import commands, queries
from myhibachi.inbox.models import Channel, ConversationStatus, DeliveryState, inbox_tag
from myhibachi.inbox.schemas import ConversationDetail, ConversationRead
from myhibachi.leads import people
from myhibachi.stations.models import Station
from myhibachi.stations.queries import get_station
from myhibachi.web.admin.leads import local_time
from myhibachi.web.admin.pages import AdminVisit, Trouble, Visit, form_state, submit

router = APIRouter(include_in_schema=False)

CHANNEL_WORDS = {Channel.sms: "Text", Channel.email: "Email", Channel.messenger: "Messenger",
                 Channel.instagram: "Instagram", Channel.web_chat: "Website chat"}
# A chip of letters rather than an emoji: it looks the same on every screen (no emoji font needed).
CHANNEL_ICONS = {Channel.sms: "SMS", Channel.email: "@", Channel.messenger: "M", Channel.instagram: "IG",
                 Channel.web_chat: "W"}
REPLY_WORDS = {Channel.sms: "a text", Channel.email: "an email", Channel.messenger: "a Messenger message",
               Channel.instagram: "an Instagram message", Channel.web_chat: "a chat message"}
STATUS_WORDS = {ConversationStatus.open: "Open", ConversationStatus.pending: "Waiting for them",
                ConversationStatus.resolved: "Resolved"}
DELIVERY_WORDS = {DeliveryState.queued: "Queued", DeliveryState.sent: "Sent", DeliveryState.delivered: "Delivered",
                  DeliveryState.read: "Read", DeliveryState.failed: "Not delivered"}
VIEWS = {"all": "Everyone's", "mine": "Mine", "unassigned": "Unassigned"}
DONE = {"sent": "Sent: it is on its way.", "noted": "Private note added (the person does not see it).",
        "assigned": "It is yours now.", "open": "Reopened.", "pending": "Marked as waiting for them.",
        "resolved": "Resolved."}
FILTER_NAMES = ("view", "channel", "status")


# --- the list ----------------------------------------------------------------------------------------------------


def _filters(params: Any, station_id: int, user_id: int) -> tuple[queries.ConversationFilters, dict[str, str]]:
    """The list's filters from the query string; a value that is none of the choices is ignored."""
    view = params.get("view", "") if params.get("view", "") in VIEWS else "all"
    channel = params.get("channel", "") if params.get("channel", "") in {c.value for c in Channel} else ""
    status = params.get("status", "") if params.get("status", "") in {s.value for s in ConversationStatus} else ""
    filters = queries.ConversationFilters(
        station_id=station_id, status=ConversationStatus(status) if status else None,
        channel=Channel(channel) if channel else None, assignee_id=user_id if view == "mine" else None,
        unassigned=view == "unassigned")
    return filters, {"view": view, "channel": channel, "status": status}


def _query(shown: dict[str, str], station: Station, **extra: Any) -> str:
    """The query string that keeps the station and the list's filters (the defaults left out)."""
    kept = {name: value for name, value in shown.items() if value and not (name == "view" and value == "all")}
    return urlencode({"station": station.id, **kept, **{k: v for k, v in extra.items() if v}})


async def _owners(visit: Visit, conversations: list[ConversationRead]) -> dict[int, str]:
    names = await user_names(visit.session, {c.assignee_id for c in conversations if c.assignee_id is not None})
    return {user_id: name for user_id, (name, _) in names.items()}


async def _inbox_page(visit: Visit, station: Station, detail: ConversationDetail | None = None,
                      trouble: Trouble | None = None, form: dict[str, str] | None = None) -> Response:
    filters, shown = _filters(visit.request.query_params, station.id, visit.principal.user_id)
    cursor = visit.request.query_params.get("cursor") or None
    conversations, next_cursor = await queries.list_conversations(
        visit.session, visit.principal, filters, cursor=cursor[:200] if cursor else None)
    owners = await _owners(visit, conversations + ([detail] if detail else []))
    context = await _thread_context(visit, detail) if detail else {}
    title = f"Inbox: {detail.contact_name}" if detail else "Inbox"
    return await visit.page(
        "inbox.html", title=title, station=station, conversations=conversations, shown=shown,
        filtered=shown != {"view": "all", "channel": "", "status": ""}, query=_query(shown, station),
        more=_query(shown, station, cursor=next_cursor) if next_cursor else None, owners=owners,
        unread=sum(c.unread for c in conversations), live_tag=inbox_tag(station.id), views=VIEWS,
        channels=list(Channel), statuses=list(ConversationStatus), channel_words=CHANNEL_WORDS,
        channel_icons=CHANNEL_ICONS, reply_words=REPLY_WORDS, status_words=STATUS_WORDS, delivery_words=DELIVERY_WORDS,
        when=lambda moment: local_time(moment, station.timezone), conversation=detail,
        done=visit.notice(DONE), values=form or {}, **context, **form_state(trouble))


@router.get("/admin/inbox", response_class=HTMLResponse)
async def inbox(visit: AdminVisit) -> Response:
    return await _inbox_page(visit, await visit.station())


# --- a thread ----------------------------------------------------------------------------------------------------


async def _thread_context(visit: Visit, detail: ConversationDetail) -> dict[str, Any]:
    """What the thread shows beside its messages: the person (bookings, leads, consent) and the reply's window."""
    closes = detail.window_closes_at
    context: dict[str, Any] = {"window_closed": closes is not None and closes <= utcnow(), "contact": None}
    try:
        contact = await people.contact_detail(visit.session, visit.principal, detail.contact_id)
    except DomainError:  # a person known only at another station (their lead is there): the thread still shows
        return context
    return {**context, "contact": contact, "consents": (await consent_history(visit.session, contact.id))[-5:],
            "email_marketing": await consent_state(visit.session, contact.id),
            "sms_marketing": await consent_state(visit.session, contact.id, ConsentChannel.sms)}


async def _thread(visit: Visit, conversation_id: int, trouble: Trouble | None = None,
                  form: dict[str, str] | None = None) -> Response:
    detail = await queries.conversation_detail(visit.session, visit.principal, conversation_id)
    return await _inbox_page(visit, await get_station(visit.session, detail.station_id), detail, trouble, form)


@router.get("/admin/inbox/{conversation_id}", response_class=HTMLResponse)
async def thread(conversation_id: PathId, visit: AdminVisit) -> Response:
    return await _thread(visit, conversation_id)


def _back(visit: Visit, conversation_id: int, done: str, anchor: str = "") -> str:
    """The thread again, with the list's filters it was opened with (they ride along in the form's action)."""
    kept = {name: visit.request.query_params[name] for name in ("station", *FILTER_NAMES)
            if visit.request.query_params.get(name)}
    return f"/admin/inbox/{conversation_id}?{urlencode({**kept, 'done': done})}{anchor}"


@router.post("/admin/inbox/{conversation_id}/messages", response_class=HTMLResponse)
async def post_message(conversation_id: PathId, visit: AdminVisit) -> Response:
    """A reply through the conversation's channel, or (`private`) a note for staff; `human_agent` answers outside
    Meta's 24-hour window, when the command allows it."""
    async def act(form: dict[str, str]) -> str:
        private = form.get("private") == "on"
        await commands.reply(visit.session, visit.principal, conversation_id, form.get("body", ""),
                             private=private, human_agent=form.get("human_agent") == "on")
        return _back(visit, conversation_id, "noted" if private else "sent", "#latest")

    return await submit(visit, act=act, show=lambda form, trouble: _thread(visit, conversation_id, trouble, form),
                        names={"": "body"})


@router.post("/admin/inbox/{conversation_id}/status", response_class=HTMLResponse)
async def set_status(conversation_id: PathId, visit: AdminVisit) -> Response:
    async def act(form: dict[str, str]) -> str:
        wanted = form.get("status", "")
        if wanted not in {s.value for s in ConversationStatus}:
            raise ValidationFailed.on("status", "Choose open, waiting or resolved.")
        await commands.update_conversation(visit.session, visit.principal, conversation_id,
                                           status=ConversationStatus(wanted))
        return _back(visit, conversation_id, wanted)

    return await submit(visit, act=act, show=lambda form, trouble: _thread(visit, conversation_id, trouble, form))


@router.post("/admin/inbox/{conversation_id}/assign", response_class=HTMLResponse)
async def assign_to_me(conversation_id: PathId, visit: AdminVisit) -> Response:
    async def act(form: dict[str, str]) -> str:
        await commands.update_conversation(visit.session, visit.principal, conversation_id,
                                           assignee_id=visit.principal.user_id)
        return _back(visit, conversation_id, "assigned")

    return await submit(visit, act=act, show=lambda form, trouble: _thread(visit, conversation_id, trouble, form))


@router.post("/admin/inbox/{conversation_id}/read", response_class=HTMLResponse)
async def mark_read(conversation_id: PathId, visit: AdminVisit) -> Response:
    """Posted by the open thread when it shows unread messages (reading is no GET's side effect): 204."""
    async def act(form: dict[str, str]) -> Response:
        await commands.mark_read(visit.session, visit.principal, conversation_id)
        return visit.send(Response(status_code=204))

    return await submit(visit, act=act, show=lambda form, trouble: _thread(visit, conversation_id, trouble, form))
