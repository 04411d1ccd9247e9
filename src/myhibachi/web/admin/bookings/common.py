"""What the booking pages share: the booking as its reader may see it, with what they may do with it now
(`Target`), the names of the chefs and staff in it, and how its moments and statuses read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import phonenumbers
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from myhibachi.auth.queries import user_names
from myhibachi.bookings import queries
from myhibachi.bookings.actions import BookingAction
from myhibachi.bookings.models import Booking
from myhibachi.bookings.queries import ActionState
from myhibachi.bookings.schemas import BookingDetail, ChefBookingDetail, VenueRead
from myhibachi.chefs.queries import find_station_chef
from myhibachi.core.db import utcnow
from myhibachi.core.errors import NotFound
from myhibachi.pricing.queries import get_rules
from myhibachi.pricing.quote import label_of
from myhibachi.pricing.rules import BusinessRules
from myhibachi.stations.models import Station
from myhibachi.stations.queries import get_station
from myhibachi.web.admin.pages import Trouble, Visit
from myhibachi.web.fields import record_id
from myhibachi.web.site.common import clock


@dataclass
class Target:
    """The booking a page is about: the staff view (scoped to the reader), its row, station and rules, and each
    action as the domain says it stands for this reader now."""

    detail: BookingDetail | ChefBookingDetail  # the money is there only for those who may read payments
    booking: Booking
    station: Station
    rules: BusinessRules
    actions: dict[BookingAction, ActionState]

    @property
    def url(self) -> str:
        return f"/admin/bookings/{self.detail.id}"

    @property
    def currency(self) -> str:
        return self.detail.quote.currency

    @property
    def due_cents(self) -> int:
        """What may still be recorded as paid (what a closed booking still owes counts too)."""
        assert isinstance(self.detail, BookingDetail)  # payment pages need payments.read, which gives the money
        return max(0, self.detail.total_due_cents - self.detail.paid_cents)

    def why_not(self, action: BookingAction) -> str | None:
        return self.actions[action].why_not


async def load_target(visit: Visit, booking_id: str, action: BookingAction | None = None) -> Target:
    """The booking as this reader may see it (404 outside their scope); with `action`, first their permission for
    it at the booking's station (403, logged), exactly as the command and the API check it."""
    number = record_id(booking_id)
    if number is None:
        raise NotFound("No such booking.")
    session, principal = visit.session, visit.principal
    if action is not None:  # as the command will: the permission first, then the booking as they may read it
        await queries.authorize_action(session, principal, action, number)
    detail = await queries.booking_detail(session, principal, number)
    booking = await queries.find_readable_booking(session, principal, number)
    station = await get_station(session, booking.station_id)
    return Target(detail, booking, station, await get_rules(session, station.id),
                  await queries.staff_actions(session, principal, booking, utcnow()))


def switched_away(visit: Visit, t: Target) -> Response | None:
    """The station switcher used on a booking's page: that station's bookings, not this booking again."""
    wanted = visit.request.query_params.get("station")
    if wanted and wanted != str(t.station.id):
        return RedirectResponse("/admin/bookings?" + urlencode({"station": wanted[:20]}), status_code=303)
    return None


def words(status: str) -> str:
    return status.replace("_", " ")


def map_link(venue: VenueRead) -> str:
    """A maps search for the venue's address: a plain link a phone opens in its maps app (no key, no script)."""
    address = ", ".join(part for part in (venue.line1, venue.line2, venue.city,
                                          f"{venue.state} {venue.zip_code}") if part)
    return "https://www.google.com/maps/search/?" + urlencode({"api": "1", "query": address})


def phone_shown(e164: str) -> str:
    """A stored E.164 number as people read it: (510) 555-0142 at home, +44 20 7946 0958 abroad."""
    try:
        number = phonenumbers.parse(e164, "US")
    except phonenumbers.NumberParseException:
        return e164
    style = phonenumbers.PhoneNumberFormat.NATIONAL if number.country_code == 1 else \
        phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)


def when(moment: datetime) -> str:
    """A station-local moment as staff read it: Thu, Dec 10, 2026, 6:00 PM."""
    return f"{moment:%a, %b} {moment.day}, {moment.year}, {clock(f'{moment:%H:%M}')}"


async def chef_names(session: Any, station_id: int, chef_ids: set[int | None]) -> dict[int, str]:
    names = {}
    for chef_id in sorted(i for i in chef_ids if i is not None):
        try:
            names[chef_id] = (await find_station_chef(session, station_id, chef_id)).name
        except NotFound:  # a chef removed since: say who by number
            names[chef_id] = f"Chef #{chef_id}"
    return names


async def staff_names(session: Any, user_ids: set[int | None]) -> dict[int, str]:
    """Who acted, by name: staff of the booking's station, whom its readers work with."""
    found = await user_names(session, {i for i in user_ids if i is not None})
    return {user_id: name for user_id, (name, _) in found.items()}


async def action_page(visit: Visit, t: Target, template: str, title: str, trouble: Trouble | None = None, *,
                      values: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    """An action's page about `t`: what it would do, and the form to confirm it (with what went wrong, if so)."""
    zone = ZoneInfo(t.station.timezone)
    return await visit.page(f"bookings/{template}", title=f"{title} — {t.detail.reference}", heading=title,
                            status=trouble.status if trouble else 200, station=t.station, b=t.detail, t=t,
                            currency=t.currency, message=trouble.message if trouble else None,
                            errors=trouble.errors if trouble else {}, values=values or {}, when=when, words=words,
                            label=label_of, local=lambda moment: moment.astimezone(zone), **context)


Render = Callable[[Visit, Target, dict[str, str], Trouble | None], Awaitable[Response]]
Act = Callable[[Visit, Target, dict[str, str]], Awaitable[Any]]
Steps = Callable[[Visit, Target, dict[str, str]], Awaitable[Response | None]]


@dataclass(frozen=True)
class Flow:
    """An action's page: `render` shows what it would do (GET, and a refused POST again), `steps` answers the
    posts before the confirmation (a calendar move, a preview), `act` calls the command; then `?done=<done>`."""

    action: BookingAction | None  # the permission the page needs (None: the payments domain checks its own)
    render: Render
    act: Act
    done: str
    steps: Steps | None = None
    conflict_field: str | None = None  # the field a "taken meanwhile" refusal is shown beside
