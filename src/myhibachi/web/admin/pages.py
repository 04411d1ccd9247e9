"""One way to write an admin page. A handler takes the `Visit` (who asks, with their session and the runtime),
states its query or command and its template, and lets domain errors rise: a permission or a record outside the
staff member's stations becomes the refusal page (`domain_error_page`), and a posted form that the domain refuses
is shown again, beside what was typed, by `submit` after the unit of work has been rolled back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.auth.principal import Principal
from myhibachi.core.errors import DomainError, NotFound, domain_error
from myhibachi.core.runtime import Runtime
from myhibachi.core.web import DbSession, RuntimeDep, discard_changes
from myhibachi.stations.models import Station
from myhibachi.web.admin.render import admin_page, refusal_page, staff_stations
from myhibachi.web.admin.session import Staff, checked_form, chosen_station
from myhibachi.web.forms import FormRejected, field_errors

NO_STATION = "You are not assigned to a station yet. Ask an admin to add you to one."
REFUSALS = frozenset({401, 403, 404})  # answered with the refusal page, never beside a form


@dataclass(frozen=True)
class Visit:
    """Who asks, and what every page of theirs needs."""

    request: Request
    runtime: Runtime
    session: AsyncSession
    principal: Principal

    async def page(self, template: str, *, title: str, status: int = 200, **context: Any) -> HTMLResponse:
        return await admin_page(self.request, self.runtime, self.session, self.principal, template, title=title,
                                status=status, **context)

    async def station(self) -> Station:
        """The station picked in the switcher; NotFound (the refusal page) for staff not at any station yet."""
        station = chosen_station(self.request, self.principal, await staff_stations(self.session, self.principal))
        if station is None:
            raise NotFound(NO_STATION)
        return station

    def notice(self, notices: dict[str, str]) -> str | None:
        """The sentence for `?done=…` after a redirect from a form."""
        return notices.get(self.request.query_params.get("done", ""))


async def current_visit(request: Request, principal: Staff, session: DbSession, runtime: RuntimeDep) -> Visit:
    return Visit(request, runtime, session, principal)


AdminVisit = Annotated[Visit, Depends(current_visit)]


@dataclass(frozen=True)
class Trouble:
    """Why a posted form changed nothing: a sentence on top and, per field, a sentence beside it."""

    status: int
    message: str
    errors: dict[str, str] = field(default_factory=dict)
    code: str = ""

    @classmethod
    def of(cls, exc: DomainError, names: dict[str, str] | None = None) -> Trouble:
        return cls(exc.status, exc.detail, field_errors(exc, names) if exc.errors else {}, exc.code)


Show = Callable[[dict[str, str], Trouble | None], Awaitable[Response]]
Act = Callable[[dict[str, str]], Awaitable[str | Response]]


async def submit(visit: Visit, *, show: Show, act: Act, names: dict[str, str] | None = None) -> Response:
    """A posted form: `act` runs the command on the checked form and names where to go next (or answers itself).
    A form refused before the command (CSRF) or by the domain is shown again by `show`, with what was typed and
    why, once the failed command's writes are undone; a refusal (403, 404) rises to the refusal page. `show`
    loads what it shows itself: the rollback expired what was loaded before."""
    try:
        form = await checked_form(visit.request)
    except FormRejected as rejected:
        return await show(rejected.form, Trouble(rejected.status, rejected.message))
    try:
        outcome = await act(form)
    except DomainError as exc:
        if exc.status in REFUSALS:
            raise
        await discard_changes(visit.session)
        return await show(form, Trouble.of(exc, names))
    return RedirectResponse(outcome, status_code=303) if isinstance(outcome, str) else outcome


async def domain_error_page(request: Request, exc: Exception) -> Response:
    """A domain error out of an admin page, as a page in the admin's layout (403 not allowed, 404 not found, else
    why it cannot be done), read in a session of its own: the request's was rolled back. Elsewhere problem+json."""
    assert isinstance(exc, DomainError)
    principal = getattr(request.state, "staff", None)
    if principal is None or not request.url.path.startswith("/admin"):
        return await domain_error(request, exc)
    runtime = request.app.state.runtime
    async with runtime.db.session(write=False) as session:
        return await refusal_page(request, runtime, session, principal, exc)
