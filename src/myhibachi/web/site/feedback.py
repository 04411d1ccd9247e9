"""The private feedback form the thank-you email links to (`/feedback/{token}`, a signed link naming the booking):
a 1–5 rating and a comment. Every customer is asked the same way and, whatever they answer, sees the same thank-you
page with the station's public review links (no review gating). The reviews domain keeps the answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from myhibachi.bookings.models import Booking
from myhibachi.core.web import DbSession, RuntimeDep
from myhibachi.pricing.queries import get_rules
from myhibachi.reviews.commands import FeedbackLinkInvalid, current_feedback, feedback_booking, give_feedback
from myhibachi.reviews.schemas import FeedbackInput
from myhibachi.stations.models import Station
from myhibachi.web.forms import FormRejected, checked_form, field_errors
from myhibachi.web.site.common import page

router = APIRouter(include_in_schema=False)
Token = Annotated[str, Path(max_length=200)]
STARS = ((5, "Excellent"), (4, "Good"), (3, "Okay"), (2, "Poor"), (1, "Bad"))


async def _page(request: Request, runtime: Any, session: Any, booking: Booking | None, state: str, *,
                status: int = 200, values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                message: str | None = None) -> HTMLResponse:
    station = await session.get(Station, booking.station_id) if booking else None
    rules = await get_rules(session, station.id) if station else None
    return page(request, runtime, "feedback.html", title=f"Your feedback — {runtime.settings.brand_name}",
                description="Tell us privately how your party went.", status=status, state=state, booking=booking,
                station=station, review_links=rules.review_links if rules else [], stars=STARS,
                action=request.url.path,
                values=values or {}, errors=errors or {}, message=message)


async def _booking_or_invalid(request: Request, runtime: Any, session: Any, token: str) -> Booking | Response:
    try:
        return await feedback_booking(session, runtime.settings, token)
    except FeedbackLinkInvalid as invalid:
        return await _page(request, runtime, session, None, "invalid", status=invalid.status, message=invalid.detail)


@router.get("/feedback/{token}", response_class=HTMLResponse)
async def feedback_form(request: Request, token: Token, session: DbSession, runtime: RuntimeDep) -> Response:
    """The form, with the customer's earlier answer if they gave one (they may change it while the link works)."""
    booking = await _booking_or_invalid(request, runtime, session, token)
    if isinstance(booking, Response):
        return booking
    given = await current_feedback(session, booking.id)
    values = {"rating": str(given.rating), "comment": given.comment} if given else {}
    return await _page(request, runtime, session, booking, "form", values=values)


@router.post("/feedback/{token}", response_class=HTMLResponse)
async def send_feedback(request: Request, token: Token, session: DbSession, runtime: RuntimeDep) -> Response:
    booking = await _booking_or_invalid(request, runtime, session, token)
    if isinstance(booking, Response):
        return booking
    try:
        form = await checked_form(request, runtime)
    except FormRejected as rejected:
        return await _page(request, runtime, session, booking, "form", status=rejected.status, values=rejected.form,
                           message=rejected.message)
    typed = {"rating": form.get("rating", ""), "comment": form.get("comment", "")[:2000]}
    try:
        data = FeedbackInput.model_validate(typed, strict=False)
    except ValidationError as exc:
        errors = field_errors(exc)
        if "rating" in errors:
            errors["rating"] = "Please choose from 1 to 5 stars."
        return await _page(request, runtime, session, booking, "form", status=422, values=typed, errors=errors,
                           message="Please check the form; nothing was sent.")
    await give_feedback(session, runtime.settings, token, data)
    return RedirectResponse(f"/feedback/{token}/thanks", status_code=303)


@router.get("/feedback/{token}/thanks", response_class=HTMLResponse)
async def thanks(request: Request, token: Token, session: DbSession, runtime: RuntimeDep) -> Response:
    """The same page for every answer: thanks, and the station's public review pages."""
    booking = await _booking_or_invalid(request, runtime, session, token)
    if isinstance(booking, Response):
        return booking
    return await _page(request, runtime, session, booking, "thanks")
