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
from myhibachi.web.admin.render import admin_page, finish, refusal_page, staff_stations
from myhibachi.web.admin.session import Staff, checked_form, chosen_station
from myhibachi.web.forms import FormRejected, field_errors

NO_STATION = "You are not assigned to a station yet. Ask an admin to add you to one."
# Answered with the refusal page, never beside a form. A 401 out of a form is a wrong password or code: beside it.
REFUSALS = frozenset({403, 404})


@dataclass(frozen=True)
class Caller:
    """Whoever posts a form, signed in or not (the link to choose a password): all `submit` needs."""

    request: Request
    runtime: Runtime
    session: AsyncSession

    def send(self, response: Response) -> Response:
        """A response that is no admin page (a download, a fragment) with what every admin response carries."""
        finish(self.request, response, self.runtime)
        return response


@dataclass(frozen=True)
class Visit(Caller):
    """A signed-in staff member, and what every page of theirs needs."""

    principal: Principal

    async def page(self, template: str, *, title: str, status: int = 200, **context: Any) -> HTMLResponse:
        return await admin_page(self.request, self.runtime, self.session, self.principal, template, title=title,
                                status=status, **context)

    async def chosen(self) -> Station | None:
        """The station picked in the switcher, else the first one the staff member works at; None if at none."""
        return chosen_station(self.request, self.principal, await staff_stations(self.session, self.principal))

    async def station(self) -> Station:
        """The chosen station; NotFound (the refusal page) for staff not at any station yet."""
        station = await self.chosen()
        if station is None:
            raise NotFound(NO_STATION)
        return station

    def notice(self, notices: dict[str, str]) -> str | None:
        """The sentence for `?done=…` after a redirect from a form."""
        return notices.get(self.request.query_params.get("done", ""))


async def current_visit(request: Request, principal: Staff, session: DbSession, runtime: RuntimeDep) -> Visit:
    return Visit(request, runtime, session, principal)


async def current_caller(request: Request, session: DbSession, runtime: RuntimeDep) -> Caller:
    return Caller(request, runtime, session)


AdminVisit = Annotated[Visit, Depends(current_visit)]
Anyone = Annotated[Caller, Depends(current_caller)]  # a page before signing in


@dataclass(frozen=True)
class Trouble:
    """Why a posted form changed nothing: a sentence on top and, per field, a sentence beside it. `expired`: the
    form itself was refused (its CSRF token), so what it carries may not be the staff member's own."""

    status: int
    message: str
    errors: dict[str, str] = field(default_factory=dict)
    code: str = ""
    expired: bool = False

    @classmethod
    def of(cls, exc: DomainError, names: dict[str, str] | None = None) -> Trouble:
        """`names` maps the domain's field names to the form's; `names[""]` is the field beside which an error
        that names no field is said (a wrong password, a taken code)."""
        names = names or {}
        if exc.errors:
            return cls(exc.status, exc.detail, field_errors(exc, names), exc.code)
        return cls(exc.status, exc.detail, {names[""]: exc.detail} if "" in names else {}, exc.code)


def form_state(trouble: Trouble | None) -> dict[str, Any]:
    """A form page's `errors` (beside the fields), `alert` (on top) and `status`: as opened, or as refused."""
    if trouble is None:
        return {"errors": {}, "alert": None, "status": 200}
    return {"errors": trouble.errors, "alert": trouble.message, "status": trouble.status}


Show = Callable[[dict[str, str], Trouble | None], Awaitable[Response]]
Act = Callable[[dict[str, str]], Awaitable[str | Response]]


async def submit(caller: Caller, *, show: Show, act: Act, names: dict[str, str] | None = None) -> Response:
    """A posted form: `act` runs the command on the checked form and names where to go next (or answers itself).
    A form refused before the command (CSRF) or by the domain is shown again by `show`, with what was typed and
    why, once the failed command's writes are undone; a refusal (403, 404) rises to the refusal page. `show`
    loads the records it shows itself: the rollback expired those loaded before (a read model stays as it was)."""
    try:
        form = await checked_form(caller.request)
    except FormRejected as rejected:
        return await show(rejected.form, Trouble(rejected.status, rejected.message, expired=True))
    try:
        outcome = await act(form)
    except DomainError as exc:
        if exc.status in REFUSALS:
            raise
        await discard_changes(caller.session)
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
