"""The routes of the booking actions: each action's page shows its consequence under the station's policies, and
its form is confirmed there. One skeleton for all of them; what differs is each action's `Flow`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from myhibachi.core.errors import NotFound
from myhibachi.web.admin.bookings import changes, lifecycle, money
from myhibachi.web.admin.bookings.common import Flow, load_target, switched_away
from myhibachi.web.admin.pages import AdminVisit, Trouble, Visit, submit
from myhibachi.web.admin.payments import cents_in_words

router = APIRouter(include_in_schema=False)
FLOWS: dict[str, Flow] = {**lifecycle.FLOWS, **changes.FLOWS, **money.FLOWS}
TAKEN_MEANWHILE = frozenset({"slot_unavailable", "chef_unavailable"})


def _flow(action: str) -> Flow:
    if (flow := FLOWS.get(action)) is None:
        raise NotFound("No such page.")
    return flow


def _in_words(trouble: Trouble, currency: str, conflict_field: str | None) -> Trouble:
    """The domain counts in cents ("At most 79541 cents ..."); people read money. A time or chef taken meanwhile
    is said beside the field that chose it."""
    def readable(text: str) -> str:
        return cents_in_words(text, currency)

    if trouble.code == "idempotency_key_reused":
        return Trouble(trouble.status, "This form was sent before with other values. Open the form again to "
                                       "record another one.", code=trouble.code)
    errors = {name: readable(text) for name, text in trouble.errors.items()}
    if conflict_field and trouble.code in TAKEN_MEANWHILE:
        errors = {conflict_field: trouble.message}
    return Trouble(trouble.status, readable(trouble.message), errors, trouble.code)


@router.get("/admin/bookings/{booking_id}/{action}", response_class=HTMLResponse)
async def action_page(booking_id: str, action: str, visit: AdminVisit) -> Response:
    """An action's page: the booking, then the action's consequence; nothing changes."""
    flow = _flow(action)
    t = await load_target(visit, booking_id, flow.action)
    return switched_away(visit, t) or await flow.render(visit, t, {}, None)


@router.post("/admin/bookings/{booking_id}/{action}", response_class=HTMLResponse)
async def action_post(booking_id: str, action: str, visit: AdminVisit) -> Response:
    """`go=confirm` runs the command; anything else (a calendar step, a preview) only shows. A refusal is undone
    and shown beside the form, which keeps what was typed."""
    flow = _flow(action)
    t = await load_target(visit, booking_id, flow.action)

    async def act(form: dict[str, str]) -> str | Response:
        if flow.steps is not None and (shown := await flow.steps(visit, t, form)) is not None:
            return shown
        if form.get("go") != "confirm":
            return await flow.render(visit, t, form, None)
        await flow.act(visit, t, form)
        return f"{t.url}?done={flow.done}"

    return await submit(visit, act=act, show=lambda form, trouble: _show_again(visit, booking_id, flow, form, trouble),
                        names=money.FORM_NAMES)


async def _show_again(visit: Visit, booking_id: str, flow: Flow, form: dict[str, str], trouble: Trouble) -> Response:
    fresh = await load_target(visit, booking_id, flow.action)  # the rollback expired what was loaded
    return await flow.render(visit, fresh, form, _in_words(trouble, fresh.currency, flow.conflict_field))
