"""Customer pages. Every price, fee, window and policy shown comes from the station's business rules; the brand
from settings. Routes only gather what the domain queries return and render a template."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from myhibachi.core.errors import NotFound, http_error
from myhibachi.core.money import format_money
from myhibachi.core.web import DbSession, RuntimeDep
from myhibachi.leads.commands import Inquiry, capture_lead
from myhibachi.leads.models import LeadSource
from myhibachi.leads.schemas import LeadCreate
from myhibachi.pricing.queries import get_rules
from myhibachi.pricing.quote import PROTEIN_ENTITLEMENT, label_of, menu_choices
from myhibachi.pricing.rules import BusinessRules
from myhibachi.settings import Settings
from myhibachi.stations.models import Station
from myhibachi.stations.queries import find_active_station, list_public_stations
from myhibachi.stations.schemas import StationPublic
from myhibachi.web.assets import asset_url
from myhibachi.web.forms import FormRejected, checked_form, field_errors
from myhibachi.web.site.common import current_station, missing_page, page
from myhibachi.web.site.party import PARTY_COUNTS, ZIP_HINT, count_quote, price_party_form, settled, venue_station

router = APIRouter(include_in_schema=False)
# For the sitemap, with the stations.
PAGES = ("/", "/menu", "/quote", "/book", "/faq", "/contact", "/privacy", "/terms")


async def _stations_and_rules(session: Any, code: str | None) -> tuple[list[StationPublic], StationPublic | None,
                                                                         BusinessRules | None]:
    """The open stations, the one asked for (else the first), and its rules."""
    stations = await list_public_stations(session)
    chosen = next((s for s in stations if code and s.code == code.upper()), stations[0] if stations else None)
    return stations, chosen, (await get_rules(session, chosen.id) if chosen else None)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    shown = await current_station(request, session)
    stations, station, rules = shown.stations, shown.station, shown.rules
    return page(request, runtime, "home.html", title=f"{runtime.settings.brand_name} — hibachi chef at your home",
                 description="A private hibachi chef cooks at your party: grill, show and dinner for your guests. "
                             "Instant quote, live availability, book online.",
                 stations=stations, station=station, rules=rules, json_ld=_organization(runtime.settings, stations))


def _organization(settings: Settings, stations: list[StationPublic]) -> dict[str, Any]:
    """The business for search engines (schema.org Organization), each open station one of its locations."""
    base = settings.base_url.rstrip("/")
    return {"@context": "https://schema.org", "@type": "Organization", "name": settings.brand_name, "url": f"{base}/",
            "logo": base + (settings.brand_logo_path or asset_url("img/icon.svg")),
            "telephone": settings.brand_phone, "email": settings.brand_email,
            "location": [{"@type": "Place", "name": f"{settings.brand_name} {s.name}",
                          "url": f"{base}/locations/{s.code.lower()}",
                          "address": {"@type": "PostalAddress", "addressLocality": s.city, "addressRegion": s.state,
                                      "addressCountry": "US"}} for s in stations]}


@router.get("/menu", response_class=HTMLResponse)
async def menu(request: Request, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    """The station's catalogue: every item with the label, price and explanation its quote line has."""
    shown = await current_station(request, session)
    return page(request, runtime, "menu.html", title=f"Menu and prices — {runtime.settings.brand_name}",
                 description="What every guest gets, premium proteins, sides, the party minimum and travel.",
                 stations=shown.stations, station=shown.station, rules=shown.rules,
                 choices=menu_choices(shown.rules) if shown.rules else {}, entitlement=PROTEIN_ENTITLEMENT)


@router.get("/quote", response_class=HTMLResponse)
async def quote(request: Request, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    """A GET form (bookmarkable, no CSRF needed: it changes nothing); the quote appears once it is complete. The
    venue's ZIP code picks the station. Typed live (htmx), only the result and the notes beside the fields come
    back, always 200 (htmx swaps nothing else), without the errors of fields not filled in yet."""
    form = {k: v[:20] for k, v in request.query_params.items() if k in ("zip_code", *PARTY_COUNTS)}
    venue = await venue_station(request, session, form.get("zip_code"))
    result, errors = None, {}
    if form.get("zip_code") or form.get("adults"):
        result, errors = await price_party_form(session, venue, form)
        await count_quote(request, runtime, session, result, venue)
    # htmx restoring a page missing from its history cache asks for the whole page
    live = request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")
    context = {"form": form, "values": form, "result": result, "venue": venue, "zip_hint": ZIP_HINT}
    if live:
        return page(request, runtime, "quote_live.html", title="", description="", headers={"Vary": "HX-Request"},
                    errors=settled(form, errors), **context)
    return page(request, runtime, "quote.html", title=f"Instant quote — {runtime.settings.brand_name}",
                 description="Price your hibachi party in seconds: guests, venue ZIP code, travel and tax included.",
                 status=422 if errors else 200, headers={"Vary": "HX-Request"},
                 has_stations=venue.station is not None, errors=errors, **context)


def faq_entries(rules: BusinessRules) -> list[tuple[str, str]]:
    """The FAQ, every number from the rules."""
    def money(cents: int) -> str:
        return format_money(cents, rules.currency)

    return [
        ("How do I hold a date?", f"Book online and pay the {money(rules.deposit_cents)} deposit within "
         f"{rules.hold_hours} hours; the date is held for you until then."),
        ("Can I get my money back if I cancel?", f"Cancel at least {rules.deposit_refund_min_hours} hours before the "
         "event and everything you paid is refunded. Later than that, the deposit is kept and the rest refunded."),
        ("Can I move my party?", "Yes, from the link in your confirmation email. The first move at least "
         f"{rules.free_reschedule_min_hours} hours ahead is free; later moves cost "
         f"{money(rules.reschedule_fee_cents)}."),
        ("Can I change the number of guests or the menu?", f"Guests until {rules.guest_change_min_hours} hours "
         f"before, the menu until {rules.menu_change_min_hours} hours before, from your booking link."),
        ("How far do you travel?", f"Up to {rules.max_service_miles} miles. The first {rules.travel_free_miles} miles "
         f"are free, then {money(rules.travel_per_mile_cents)} a mile."),
        ("How far ahead should I book?", f"At least {rules.min_notice_hours} hours ahead, and up to "
         f"{rules.max_days_ahead} days."),
        ("What about allergies?", "Tell us every allergy when you book (or “none”); the chef plans the cook around "
         "them."),
        ("How do we choose the proteins?", f"Each guest gets proteins of your choice ({PROTEIN_ENTITLEMENT}) from "
         f"{', '.join(label_of(code) for code in rules.base_proteins)}. Choose them when you book, or later from "
         f"your booking link until {rules.menu_change_min_hours} hours before; we email you if they are missing."),
    ]


@router.get("/faq", response_class=HTMLResponse)
async def faq(request: Request, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    shown = await current_station(request, session)
    rules = shown.rules
    questions = faq_entries(rules) if rules else []
    json_ld = {"@context": "https://schema.org", "@type": "FAQPage", "mainEntity": [
        {"@type": "Question", "name": q, "acceptedAnswer": {"@type": "Answer", "text": a}} for q, a in questions]}
    return page(request, runtime, "faq.html", title=f"Questions and answers — {runtime.settings.brand_name}",
                 description="Deposits, refunds, rescheduling, travel, allergies and what to prepare.",
                 questions=questions, json_ld=json_ld if questions else None, stations=shown.stations,
                 station=shown.station)


@router.get("/locations/{code}", response_class=HTMLResponse)
async def location(code: str, request: Request, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    try:
        station: Station = await find_active_station(session, code)
    except NotFound:
        return await missing_page(request, runtime, session)
    rules = await get_rules(session, station.id)
    return page(request, runtime, "location.html", title=f"Hibachi chef in {station.city}, {station.state} — "
                 f"{runtime.settings.brand_name}", description=f"Private hibachi parties within "
                 f"{rules.max_service_miles} miles of {station.city}, {station.state}.", station=station,
                 rules=rules)


async def not_found_page(request: Request, exc: Exception) -> Response:
    """A browser asking for a page that does not exist gets a page (with a way back), API clients problem+json."""
    if (isinstance(exc, StarletteHTTPException) and exc.status_code == 404 and not request.url.path.startswith("/api/")
            and "text/html" in request.headers.get("accept", "")):
        return page(request, request.app.state.runtime, "not_found.html", title="Page not found", status=404,
                    description="This page does not exist.", stations=[])
    return await http_error(request, exc)


CONTACT_FIELDS = ("name", "email", "phone", "event_date", "guests", "zip_code", "message")


@router.get("/contact", response_class=HTMLResponse)
async def contact(request: Request, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    return await _contact_page(request, runtime, session, sent=request.query_params.get("sent") == "1")


@router.post("/contact", response_class=HTMLResponse)
async def send_contact(request: Request, session: DbSession, runtime: RuntimeDep) -> Response:
    """The contact form: a lead (`contact_form`) at the station that serves the ZIP code given, else the one the
    visitor's pages show. Refused (expired form, honeypot, rate limit, a bad field): the form again, nothing kept."""
    try:
        form = await checked_form(request, runtime)
    except FormRejected as rejected:
        return await _contact_page(request, runtime, session, form=rejected.form, status=rejected.status,
                                   message=rejected.message)
    typed = {name: form[name][:4000] for name in CONTACT_FIELDS if form.get(name)}
    venue = await venue_station(request, session, typed.get("zip_code"))
    if venue.station is None:
        return await _contact_page(request, runtime, session, form=typed, status=409)
    try:
        data = LeadCreate.model_validate({**typed, "station_id": venue.station.id}, strict=False)
    except ValidationError as exc:
        return await _contact_page(request, runtime, session, form=typed, status=422,
                                   errors=field_errors(exc, {"": "email"}),
                                   message="Please check the fields marked below; nothing was sent.")
    await capture_lead(session, Inquiry.of(data, LeadSource.contact_form))
    return RedirectResponse("/contact?sent=1", status_code=303)  # a reload does not send it twice


async def _contact_page(request: Request, runtime: Any, session: Any, *, form: dict[str, str] | None = None,
                        status: int = 200, errors: dict[str, str] | None = None, message: str | None = None,
                        sent: bool = False) -> HTMLResponse:
    shown = await current_station(request, session)
    return page(request, runtime, "contact.html", title=f"Contact — {runtime.settings.brand_name}",
                description="Call, email or write to us about your party.", stations=shown.stations,
                station=shown.station, values=form or {}, errors=errors or {}, message=message, sent=sent,
                status=status)


@router.get("/privacy", response_class=HTMLResponse)
async def privacy(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    return page(request, runtime, "privacy.html", title=f"Privacy — {runtime.settings.brand_name}",
                 description="What we keep about you, why, and for how long.")


@router.get("/terms", response_class=HTMLResponse)
async def terms(request: Request, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    _, station, rules = await _stations_and_rules(session, None)
    return page(request, runtime, "terms.html", title=f"Booking terms — {runtime.settings.brand_name}",
                 description="Deposit, cancellation, rescheduling and changes.", station=station, rules=rules)


@router.get("/brand.css")
async def brand_css(runtime: RuntimeDep) -> Response:
    """The brand colours from settings (a stylesheet, since the CSP allows no inline styles)."""
    settings = runtime.settings
    css = f":root{{--brand:{settings.brand_primary_color};--ink:{settings.brand_ink_color}}}\n"
    return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


@router.get("/robots.txt", response_class=PlainTextResponse)
async def robots(runtime: RuntimeDep) -> str:
    base = runtime.settings.base_url.rstrip("/")
    return f"User-agent: *\nDisallow: /api/\nDisallow: /manage/\nSitemap: {base}/sitemap.xml\n"


@router.get("/sitemap.xml")
async def sitemap(session: DbSession, runtime: RuntimeDep) -> Response:
    base = runtime.settings.base_url.rstrip("/")
    paths = [*PAGES, *(f"/locations/{s.code.lower()}" for s in await list_public_stations(session))]
    urls = "".join(f"<url><loc>{escape(base + path)}</loc></url>" for path in paths)
    body = ('<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>')
    return Response(body, media_type="application/xml")
