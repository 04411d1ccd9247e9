"""News and offers, double opt-in: the footer's form (every site page), its thank-you page (the same words whatever
the address), and the page the emailed confirmation link opens. The ledger and the email are the consent domain's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from myhibachi.consent.commands import ConsentLinkInvalid, ask_marketing_consent, confirm_marketing_consent
from myhibachi.consent.models import ConsentSource
from myhibachi.consent.schemas import SubscribeRequest
from myhibachi.core.web import DbSession, RuntimeDep
from myhibachi.web.forms import FormRejected, checked_form
from myhibachi.web.site.common import current_station, page

router = APIRouter(include_in_schema=False)
Token = Annotated[str, Path(max_length=200)]


def _page(request: Request, runtime: Any, state: str, *, status: int = 200, values: dict[str, str] | None = None,
          errors: dict[str, str] | None = None, message: str | None = None) -> HTMLResponse:
    return page(request, runtime, "subscribe.html", title=f"News and offers — {runtime.settings.brand_name}",
                description="Our news and offers by email, only once you confirm.", status=status, state=state,
                values=values or {}, errors=errors or {}, message=message)


@router.get("/subscribe", response_class=HTMLResponse)
async def subscribe_page(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    return _page(request, runtime, "form")


@router.post("/subscribe", response_class=HTMLResponse)
async def subscribe(request: Request, session: DbSession, runtime: RuntimeDep) -> Response:
    """The footer's form: a grant (`footer_form`, at the station the visitor's pages show) and the confirmation
    email. Refused (expired form, honeypot, rate limit, not an address): the form again, nothing kept."""
    try:
        form = await checked_form(request, runtime)
    except FormRejected as rejected:
        return _page(request, runtime, "form", status=rejected.status, values=rejected.form,
                     message=rejected.message)
    typed = {"email": form.get("email", "")[:254]}
    try:
        data = SubscribeRequest.model_validate({**typed, "source": "footer_form"})
    except ValidationError:
        return _page(request, runtime, "form", status=422, values=typed,
                     errors={"email": "Please enter your email address, like name@example.com."},
                     message="Please check your email address; nothing was sent.")
    shown = await current_station(request, session)
    await ask_marketing_consent(session, runtime.settings, data.email, source=ConsentSource.footer_form,
                                station_id=shown.station.id if shown.station else None)
    return RedirectResponse("/subscribe/sent", status_code=303)  # a reload does not send it twice


@router.get("/subscribe/sent", response_class=HTMLResponse)
async def subscribe_sent(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    return _page(request, runtime, "sent")


@router.get("/subscribe/confirm/{token}", response_class=HTMLResponse)
async def confirm(request: Request, token: Token, runtime: RuntimeDep) -> HTMLResponse:
    """The emailed link: records the confirmation (once; a second visit shows the same page). A GET writes here, as
    the link in the email is one; its own write transaction, since a GET's unit of work only reads."""
    try:
        async with runtime.db.transaction() as session:
            await confirm_marketing_consent(session, runtime.settings, token)
    except ConsentLinkInvalid as invalid:
        return _page(request, runtime, "invalid", status=invalid.status, message=invalid.detail)
    return _page(request, runtime, "confirmed")
