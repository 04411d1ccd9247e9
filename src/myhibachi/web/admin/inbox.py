"""Admin pages of the inbox: the switcher's station's conversations (mine, unassigned, by channel and status, with
their unread counts), a thread beside them (messages, private notes and each reply's way to the person; the
contact's bookings, leads and consent; the reply box with the channel and Meta's window), status and "assign to
me"; who answers a website chat (the assistant, or a person: take it over, hand it back) and the chats whose
assistant asked for a person, flagged on top. Kept current over `/ws/staff` (static/js/admin-chat.js), else by the
change feed. Every read and change goes through the inbox domain's queries and commands; a reply the channel refuses
(Meta's window) is said beside the reply box."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
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
from myhibachi.inbox import canned, commands, queries, quotes
from myhibachi.inbox.models import Channel, ConversationStatus, DeliveryState, HandledBy, HandoffReason, inbox_tag
from myhibachi.inbox.quotes import ThreadQuote
from myhibachi.inbox.schemas import ConversationDetail, ConversationRead
from myhibachi.leads import people
from myhibachi.stations.models import Station
from myhibachi.stations.queries import get_station
from myhibachi.web.admin.leads import local_time
from myhibachi.web.admin.pages import AdminVisit, Trouble, Visit, form_state, submit
from myhibachi.web.forms import validated

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
DONE = {"sent": "Sent: it is on its way.", "quoted": "Quote sent: it is on its way.",
        "held": "Date held and the quote with the deposit link sent.", "labelled": "Labels saved.",
        "noted": "Private note added (the person does not see it).",
        "assigned": "It is yours now.", "open": "Reopened.", "pending": "Marked as waiting for them.",
        "resolved": "Resolved.", "taken": "You are answering this chat now: the assistant stays silent.",
        "handed_back": "The assistant answers this chat again (it told the visitor so)."}
# Why the assistant asked for a person, as the flag says it: "Wants a person: refund".
HANDOFF_WORDS = {HandoffReason.asked: "they asked for one", HandoffReason.refund: "refund",
                 HandoffReason.complaint: "complaint", HandoffReason.allergy: "allergy question",
                 HandoffReason.large_party: "large party", HandoffReason.outside_area: "outside the service area",
                 HandoffReason.not_understood: "the assistant could not help"}
WANTED_SHOWN = 50  # requests for a person on top of the inbox (there are rarely more than a few)
FILTER_NAMES = ("view", "channel", "status", "label", "late")
NO_FILTERS = {"view": "all", "channel": "", "status": "", "label": "", "late": ""}
# The quote form's fields by where ThreadQuote puts them (the venue is nested).
QUOTE_NAMES = {"venue.line1": "venue_line1", "venue.line2": "venue_line2",
               "venue.city": "venue_city", "venue.state": "venue_state", "venue.zip_code": "venue_zip"}


# --- the list ----------------------------------------------------------------------------------------------------


def _filters(params: Any, station_id: int, user_id: int) -> tuple[queries.ConversationFilters, dict[str, str]]:
    """The list's filters from the query string; a value that is none of the choices is ignored."""
    view = params.get("view", "") if params.get("view", "") in VIEWS else "all"
    channel = params.get("channel", "") if params.get("channel", "") in {c.value for c in Channel} else ""
    status = params.get("status", "") if params.get("status", "") in {s.value for s in ConversationStatus} else ""
    label, late = params.get("label", "")[:40], "1" if params.get("late") else ""
    filters = queries.ConversationFilters(
        station_id=station_id, status=ConversationStatus(status) if status else None,
        channel=Channel(channel) if channel else None, assignee_id=user_id if view == "mine" else None,
        unassigned=view == "unassigned", label=label or None, late=bool(late))
    return filters, {"view": view, "channel": channel, "status": status, "label": label, "late": late}


def _query(shown: dict[str, str], station: Station, **extra: Any) -> str:
    """The query string that keeps the station and the list's filters (the defaults left out)."""
    kept = {name: value for name, value in shown.items() if value and not (name == "view" and value == "all")}
    return urlencode({"station": station.id, **kept, **{k: v for k, v in extra.items() if v}})


async def _owners(visit: Visit, conversations: list[ConversationRead]) -> dict[int, str]:
    names = await user_names(visit.session, {c.assignee_id for c in conversations if c.assignee_id is not None})
    return {user_id: name for user_id, (name, _) in names.items()}


def _clock_words(conversation: ConversationRead, when: Callable[[datetime], str]) -> str:
    """The conversation's clock in words: a hold about to lapse first, else when its answer is (or was) due."""
    if conversation.hold_lapses_soon and conversation.hold_expires_at:
        return f"The held date lapses unpaid at {when(conversation.hold_expires_at)}"
    if conversation.answer_due_at is None:
        return ""
    return (f"Late: the answer was due {when(conversation.answer_due_at)}" if conversation.late
            else f"Answer due by {when(conversation.answer_due_at)}")


async def _wanting_a_person(visit: Visit, station: Station) -> list[ConversationRead]:
    """The station's web chats whose assistant asked for a person that nobody has taken yet, the longest waiting
    first."""
    wanting, _ = await queries.list_conversations(visit.session, visit.principal, queries.ConversationFilters(
        station_id=station.id, wants_person=True), limit=WANTED_SHOWN)
    return sorted(wanting, key=lambda c: c.handoff_requested_at or c.last_message_at)


def answering_words(conversation: ConversationRead, viewer_id: int, owners: dict[int, str]) -> str:
    """Who answers a website chat, in words: the assistant, you, or the person who took it."""
    if conversation.handled_by == HandledBy.bot:
        return "The assistant is answering"
    if conversation.assignee_id == viewer_id:
        return "You are answering"
    if conversation.assignee_id is not None:
        return f"{owners.get(conversation.assignee_id, 'Staff')} is answering"
    return "A person is answering"


async def _inbox_page(visit: Visit, station: Station, detail: ConversationDetail | None = None,
                      trouble: Trouble | None = None, form: dict[str, str] | None = None) -> Response:
    filters, shown = _filters(visit.request.query_params, station.id, visit.principal.user_id)
    cursor = visit.request.query_params.get("cursor") or None
    conversations, next_cursor = await queries.list_conversations(
        visit.session, visit.principal, filters, cursor=cursor[:200] if cursor else None)
    late = await queries.who_is_late(visit.session, visit.principal, station.id)
    wanting = await _wanting_a_person(visit, station)
    owners = await _owners(visit, conversations + late + ([detail] if detail else []))
    context = await _thread_context(visit, detail) if detail else {}
    title = f"Inbox: {detail.contact_name}" if detail else "Inbox"

    def when(moment: datetime) -> str:
        return local_time(moment, station.timezone)

    return await visit.page(
        "inbox.html", title=title, station=station, conversations=conversations, shown=shown,
        filtered=shown != NO_FILTERS, query=_query(shown, station), late=late, wanting=wanting,
        needs_someone=len({c.id for c in late + wanting}), handoff_words=HANDOFF_WORDS,
        answering=lambda conversation: answering_words(conversation, visit.principal.user_id, owners),
        late_by_owner=Counter(owners.get(c.assignee_id, "Staff") if c.assignee_id else "Unassigned" for c in late),
        labels=await queries.station_labels(visit.session, visit.principal, station.id),
        more=_query(shown, station, cursor=next_cursor) if next_cursor else None, owners=owners,
        unread=sum(c.unread for c in conversations), live_tag=inbox_tag(station.id), views=VIEWS,
        channels=list(Channel), statuses=list(ConversationStatus), channel_words=CHANNEL_WORDS,
        channel_icons=CHANNEL_ICONS, reply_words=REPLY_WORDS, status_words=STATUS_WORDS, delivery_words=DELIVERY_WORDS,
        when=when, clock_words=lambda conversation: _clock_words(conversation, when), conversation=detail,
        done=visit.notice(DONE), values=form or {}, **context, **form_state(trouble))


@router.get("/admin/inbox", response_class=HTMLResponse)
async def inbox(visit: AdminVisit) -> Response:
    return await _inbox_page(visit, await visit.station())


# --- a thread ----------------------------------------------------------------------------------------------------


async def _thread_context(visit: Visit, detail: ConversationDetail) -> dict[str, Any]:
    """What the thread shows beside its messages: the person (bookings, leads, consent) and the reply's window."""
    closes = detail.window_closes_at
    context: dict[str, Any] = {
        "window_closed": closes is not None and closes <= utcnow(), "contact": None,
        "canned": await canned.canned_replies_for_conversation(visit.session, visit.principal, detail.id)}
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
    """`canned`: a canned reply's id, put in the reply box (what the picker's links do without JavaScript)."""
    chosen = visit.request.query_params.get("canned", "")
    form = None
    if chosen.isdigit():
        replies = await canned.canned_replies_for_conversation(visit.session, visit.principal, conversation_id)
        form = next(({"body": item.rendered} for item in replies if str(item.reply.id) == chosen), None)
    return await _thread(visit, conversation_id, form=form)


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


@router.post("/admin/inbox/{conversation_id}/take-over", response_class=HTMLResponse)
async def take_over(conversation_id: PathId, visit: AdminVisit) -> Response:
    """A website chat taken from the assistant: you answer (it is yours) and the visitor sees a person joined. One
    another person took already is said on top (409 `already_taken`), nothing changed."""
    async def act(form: dict[str, str]) -> str:
        await commands.take_over(visit.session, visit.principal, conversation_id)
        return _back(visit, conversation_id, "taken")

    return await submit(visit, act=act, show=lambda form, trouble: _thread(visit, conversation_id, trouble, form))


@router.post("/admin/inbox/{conversation_id}/hand-back", response_class=HTMLResponse)
async def hand_back(conversation_id: PathId, visit: AdminVisit) -> Response:
    """The assistant answers the website chat again (409 `not_taken` when it does already: said on top)."""
    async def act(form: dict[str, str]) -> str:
        await commands.hand_back(visit.session, visit.principal, conversation_id)
        return _back(visit, conversation_id, "handed_back", "#latest")

    return await submit(visit, act=act, show=lambda form, trouble: _thread(visit, conversation_id, trouble, form))


@router.post("/admin/inbox/{conversation_id}/labels", response_class=HTMLResponse)
async def change_labels(conversation_id: PathId, visit: AdminVisit) -> Response:
    """`add` a label (typed or picked), or `remove` one (its chip's button)."""
    async def act(form: dict[str, str]) -> str:
        await commands.change_labels(visit.session, visit.principal, conversation_id,
                                     add=[form["add"]] if "add" in form else [],
                                     remove=[form["remove"]] if "remove" in form else [])
        return _back(visit, conversation_id, "labelled")

    return await submit(visit, act=act, show=lambda form, trouble: _thread(visit, conversation_id, trouble, form),
                        names={"labels": "add"})


@router.post("/admin/inbox/{conversation_id}/quote", response_class=HTMLResponse)
async def send_quote(conversation_id: PathId, visit: AdminVisit) -> Response:
    """The quote form: the party priced and sent as a reply; with a date and a start time the date is held too and
    the reply carries the deposit link (the venue and the allergies answer are then needed, as on the site)."""
    async def act(form: dict[str, str]) -> str:
        sent = await quotes.send_quote(visit.session, visit.runtime.settings, visit.principal, conversation_id,
                                       validated(ThreadQuote, _quote_fields(form), QUOTE_NAMES))
        return _back(visit, conversation_id, "held" if sent.priced.booking is not None else "quoted", "#latest")

    return await submit(visit, act=act, show=lambda form, trouble: _thread(visit, conversation_id, trouble, form),
                        names={**QUOTE_NAMES, "venue": "venue_line1"})


def _quote_fields(form: dict[str, str]) -> dict[str, Any]:
    """The form as ThreadQuote's fields: empty ones left out (a quote without a date holds nothing)."""
    fields: dict[str, Any] = {name: form.get(name, "").strip() for name in (
        "zip_code", "adults", "children", "toddlers", "event_date", "slot_time", "allergies")}
    venue = {name.removeprefix("venue."): form.get(field, "").strip() for name, field in QUOTE_NAMES.items()}
    if any(venue.values()):
        fields["venue"] = {name: value for name, value in venue.items() if value}
    for count in ("adults", "children", "toddlers"):  # a number field's text as the number (the model is strict)
        if fields[count].isdigit():
            fields[count] = int(fields[count])
    return {name: value for name, value in fields.items() if value not in ("", None)}


@router.post("/admin/inbox/{conversation_id}/read", response_class=HTMLResponse)
async def mark_read(conversation_id: PathId, visit: AdminVisit) -> Response:
    """Posted by the open thread when it shows unread messages (reading is no GET's side effect): 204."""
    async def act(form: dict[str, str]) -> Response:
        await commands.mark_read(visit.session, visit.principal, conversation_id)
        return visit.send(Response(status_code=204))

    return await submit(visit, act=act, show=lambda form, trouble: _thread(visit, conversation_id, trouble, form))
