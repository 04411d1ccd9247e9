"""Leaving and choosing (SPEC §7, RFC 8058): the unsubscribe link of every marketing email and the preference page
it leads to. `POST /unsubscribe/{token}` withdraws at once, with no cookie and no CSRF token (a mail client's
one-click button posts it from its own servers); `GET` only shows the button, since link scanners follow GETs. The
ledger and the opt-outs are the consent domain's; a campaign's count of unsubscribes is the newsletters'."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from myhibachi.consent.commands import (
    UnsubscribeLinkInvalid,
    ask_marketing_consent,
    set_preferences,
    unsubscribe_link_contact,
    withdraw_marketing_consent,
)
from myhibachi.consent.models import ConsentAction, ConsentSource, Topic
from myhibachi.consent.queries import consent_state, preferences_of
from myhibachi.contacts.models import Contact
from myhibachi.core.web import DbSession, RuntimeDep
from myhibachi.newsletters.unsubscribes import count_unsubscribe, recipient_id_of
from myhibachi.stations.queries import list_public_stations
from myhibachi.web.forms import FormRejected, checked_form
from myhibachi.web.site.common import page

router = APIRouter(include_in_schema=False)
Token = Annotated[str, Path(max_length=200)]
ONE_CLICK_BODY = ("List-Unsubscribe", "One-Click")  # RFC 8058's form field
TOPIC_WORDS = {
    Topic.news: ("News and offers", "Our newsletters: new menus, dates and offers."),
    Topic.follow_ups: ("Notes about your quotes and events",
                       "A follow-up on a quote, a thank-you after your event, an invitation to book again, "
                       "a note on a birthday or anniversary you celebrated with us."),
}


def masked(email: str | None) -> str:
    """Enough of the address to know it is yours, not enough to read it off a forwarded link: d…@example.com."""
    if not email or "@" not in email:
        return "your address"
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}…@{domain}"


def _page(request: Request, runtime: Any, template: str, state: str, *, status: int = 200,
          **context: Any) -> HTMLResponse:
    return page(request, runtime, template, title=f"Your email from {runtime.settings.brand_name}",
                description="Unsubscribe, or choose which emails you get.", status=status, state=state, **context)


def _invalid(request: Request, runtime: Any, error: UnsubscribeLinkInvalid) -> HTMLResponse:
    return _page(request, runtime, "unsubscribe.html", "invalid", status=error.status, message=error.detail)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe_page(request: Request, token: Token, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    """Only the button: nothing is withdrawn by opening the link."""
    try:
        contact = await unsubscribe_link_contact(session, runtime.settings, token, lock=False)
    except UnsubscribeLinkInvalid as invalid:
        return _invalid(request, runtime, invalid)
    return _page(request, runtime, "unsubscribe.html", "ask", token=token, address=masked(contact.email),
                 recipient=recipient_id_of(request.query_params.get("r")))


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe(request: Request, token: Token, session: DbSession, runtime: RuntimeDep) -> Response:
    """Withdraws email marketing at once (once: a second post writes nothing) and counts it for the campaign the
    link came with (`?r=`). A mail client's one-click post (`List-Unsubscribe=One-Click`) gets a short 200, a
    browser the page saying so; a bad or year-old link a 404 and nothing changed."""
    try:
        contact = await unsubscribe_link_contact(session, runtime.settings, token)
    except UnsubscribeLinkInvalid as invalid:
        return _invalid(request, runtime, invalid)
    await withdraw_marketing_consent(session, contact.id)
    await count_unsubscribe(session, recipient_id_of(request.query_params.get("r")), contact.id)
    form = await request.form()
    if form.get(ONE_CLICK_BODY[0]) == ONE_CLICK_BODY[1]:
        return PlainTextResponse("Unsubscribed: no more news and offers will be sent to this address.")
    return _page(request, runtime, "unsubscribe.html", "done", token=token, address=masked(contact.email))


async def _preferences_page(request: Request, session: Any, runtime: Any, token: str, contact: Contact, *,
                            status: int = 200, message: str | None = None, sent: bool = False) -> HTMLResponse:
    chosen = await preferences_of(session, contact.id)
    stations = await list_public_stations(session)
    return _page(request, runtime, "preferences.html", "form", status=status, token=token,
                 address=masked(contact.email), consent=await consent_state(session, contact.id),
                 confirmed=ConsentAction.confirmed, granted=ConsentAction.granted,
                 stations=[(s, s.id not in chosen.stations_off) for s in stations],
                 topics=[(t, *TOPIC_WORDS[t], t not in chosen.topics_off) for t in Topic],
                 saved=request.query_params.get("saved") == "1", sent=sent, message=message)


@router.get("/preferences/{token}", response_class=HTMLResponse)
async def preferences_page(request: Request, token: Token, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    try:
        contact = await unsubscribe_link_contact(session, runtime.settings, token, lock=False)
    except UnsubscribeLinkInvalid as invalid:
        return _invalid(request, runtime, invalid)
    return await _preferences_page(request, session, runtime, token, contact)


@router.post("/preferences/{token}", response_class=HTMLResponse)
async def save_preferences(request: Request, token: Token, session: DbSession, runtime: RuntimeDep) -> Response:
    """`go=save`: the stations and topics ticked are wanted, the others opted out of. `go=subscribe`: someone who
    unsubscribed (or never confirmed) asks again, through the double opt-in email like any new subscriber."""
    try:
        contact = await unsubscribe_link_contact(session, runtime.settings, token)
    except UnsubscribeLinkInvalid as invalid:
        return _invalid(request, runtime, invalid)
    try:
        form = await checked_form(request, runtime)
    except FormRejected as rejected:
        return await _preferences_page(request, session, runtime, token, contact, status=rejected.status,
                                       message=rejected.message)
    if form.get("go") == "subscribe" and contact.email:
        await ask_marketing_consent(session, runtime.settings, contact.email, source=ConsentSource.preferences)
        return await _preferences_page(request, session, runtime, token, contact, sent=True)
    offered = {s.id for s in await list_public_stations(session)}
    await set_preferences(session, contact.id, offered_stations=offered,
                          wanted_stations={s for s in offered if form.get(f"station_{s}")},
                          wanted_topics={t for t in Topic if form.get(f"topic_{t.value}")})
    return RedirectResponse(f"/preferences/{token}?saved=1", status_code=303)
