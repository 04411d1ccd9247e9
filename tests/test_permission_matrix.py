"""The permission matrix: every staff operation of the JSON API, called by every persona.

Nothing here re-types the permission table. Each case lists the checks its operation makes, as small rules
that read `ROLE_PERMISSIONS` and `GRANTABLE_ROLES` (SPEC §3):

- anonymous → 401;
- `holds(permission)`: a request that names no station needs the permission at some station (else 403);
  a request about a station needs a role there (else 404: another station's records do not exist for you)
  and the permission in that role (else 403);
- `may_grant(role)`: granting, changing or taking away `role` needs it in GRANTABLE_ROLES of your role
  there, and `users.manage` (else 403); changing a role needs both the old and the new one. Granting a role
  at your station does not need the user to be visible already: that is how an existing user joins it;
- `manages_or_own(own)`: a chef's time-off needs a role at the station (else 404) and `chefs.manage` there, or
  `chefs.own_time_off` when the chef record is linked to your own user (else 403, logged as `chefs.manage`);
- `sees(target)`: a user is visible when they hold a role at a station where you hold `users.manage`
  (else 404); `may_manage(target)`: every role they hold must be one you may grant, and only a super admin
  manages a super admin (else 403).

Each denial must also be logged as a `permission_denied` event naming the permission, and every denied call
must leave the data as it was (each mutating case verifies its effect, or its absence, in the database).

The first failing check gives the status; when none fails the operation succeeds. So changing the table
changes the expectations, and a new staff route fails `test_every_staff_route_has_matrix_cases` until it has
cases here.

The admin pages are in the matrix too (the second half of this file), with the same personas and check rules, so
the pages and the API cannot drift apart: every admin route × persona, judged as pages answer (a redirect to the
sign-in page, the refusal page, the page or a redirect after a confirmed form), and a new admin route fails
`test_every_admin_route_has_page_matrix_cases` until it has cases or is listed in NO_SIGN_IN with its reason.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pyotp
import pytest
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from httpx import AsyncClient, Request, Response
from sqlalchemy import func, select, update

from myhibachi.app import API_PREFIX, PUBLIC_ROUTERS
from myhibachi.auth.dependencies import current_principal
from myhibachi.auth.models import PasswordToken, StationMembership, User
from myhibachi.auth.permissions import GRANTABLE_ROLES, ROLE_PERMISSIONS, STATION_ROLES, Permission, Role
from myhibachi.automations.commands import ensure_automations
from myhibachi.automations.models import Automation
from myhibachi.automations.queries import automation_steps
from myhibachi.bookings.commands import requote
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.bookings.policy import cancel_terms, reschedule_terms
from myhibachi.bookings.schemas import PartyChange
from myhibachi.chefs.models import EVERY_WEEKDAY, Chef, ChefTimeOff, TimeOffStatus
from myhibachi.consent.commands import record_consent, suppress
from myhibachi.consent.models import ConsentAction, ConsentSource, Suppression, SuppressionReason
from myhibachi.contacts.commands import Identity, find_contact, find_or_create_contact
from myhibachi.contacts.models import Contact, ContactTag
from myhibachi.core.db import Database
from myhibachi.core.outbox import OutboxMessage
from myhibachi.inbox import commands as inbox_commands
from myhibachi.inbox.commands import Inbound
from myhibachi.inbox.models import CannedReply, Channel, Conversation, ConversationLabel
from myhibachi.inbox.models import Message as InboxMessage
from myhibachi.inbox.web_chat import receive_visitor_message
from myhibachi.leads.commands import Inquiry, capture_lead
from myhibachi.leads.models import Lead, LeadActivity, LeadSource
from myhibachi.newsletters.models import Campaign, CampaignStatus, Segment
from myhibachi.payments.models import Payment, PaymentMethod, PaymentPurpose, PaymentStatus, Refund, RefundStatus
from myhibachi.pricing.queries import get_rules
from myhibachi.reviews.models import ContactTask
from myhibachi.stations.models import Station
from myhibachi.web.admin.session import current_staff
from tests.conftest import PASSWORD
from tests.factories import insert_booking
from tests.web.browserless import admin_csrf, read, submit

pytestmark = pytest.mark.sweep  # every route: `make test` runs it unmeasured (the routes' own tests measure them)

P = Permission
HOME, OTHER = "HOME", "OTHER"  # the station every operation is about, and a station it is not about


# --- personas ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Persona:
    name: str
    roles: tuple[tuple[str, Role], ...] = ()  # (station code, role)
    is_super_admin: bool = False
    signed_in: bool = True

    def role_at(self, station: str | None) -> Role | None:
        if self.is_super_admin:
            return Role.super_admin
        return dict(self.roles).get(station) if station else None

    def permissions_at(self, station: str | None) -> frozenset[Permission]:
        role = self.role_at(station)
        return ROLE_PERMISSIONS[role] if role else frozenset()

    def holds_anywhere(self, permission: Permission) -> bool:
        held = [Role.super_admin] if self.is_super_admin else [role for _, role in self.roles]
        return any(permission in ROLE_PERMISSIONS[role] for role in held)

    def grantable_at(self, station: str | None) -> frozenset[Role]:
        if P.users_manage not in self.permissions_at(station):
            return frozenset()
        role = self.role_at(station)
        assert role is not None
        return GRANTABLE_ROLES[role]


PERSONAS = [
    Persona("anonymous", signed_in=False),
    *(Persona(role.value, roles=((HOME, role),)) for role in reversed(STATION_ROLES)),  # chef … admin
    Persona("admin_of_other_station", roles=((OTHER, Role.admin),)),
    Persona("super_admin", is_super_admin=True),
]


# --- expectation rules ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Denial:
    status: int
    logged_permission: Permission | None  # the `permission_denied` log event it must emit (None: anonymous)


Check = Callable[[Persona], Denial | None]


def holds(permission: Permission, station: str | None = None) -> Check:
    def check(persona: Persona) -> Denial | None:
        if station is None:
            return None if persona.holds_anywhere(permission) else Denial(403, permission)
        if persona.role_at(station) is None:
            return Denial(404, permission)
        return None if permission in persona.permissions_at(station) else Denial(403, permission)

    return check


def may_grant(role: Role, station: str | None = HOME) -> Check:
    def check(persona: Persona) -> Denial | None:
        return None if role in persona.grantable_at(station) else Denial(403, P.users_manage)

    return check


def manages_or_own(own: bool, station: str = HOME) -> Check:
    def check(persona: Persona) -> Denial | None:
        if persona.role_at(station) is None:
            return Denial(404, P.chefs_manage)
        held = persona.permissions_at(station)
        allowed = P.chefs_manage in held or (own and P.chefs_own_time_off in held)
        return None if allowed else Denial(403, P.chefs_manage)

    return check


def reads_bookings(station: str | None = None, *, own: bool | None = False) -> Check:
    """Listing (no station: every list is allowed with `bookings.read` or a chef's `bookings.read_own`) or reading
    one booking: with `bookings.read` at its station, or `bookings.read_own` when it is the chef's own event.
    A booking you may not read does not exist for you (404, logged as `bookings.read`)."""

    def check(persona: Persona) -> Denial | None:
        readers = {P.bookings_read, P.bookings_read_own}
        if station is None:
            return None if any(persona.holds_anywhere(p) for p in readers) else Denial(403, P.bookings_read)
        held = persona.permissions_at(station)
        if persona.role_at(station) is None:
            return Denial(404, P.bookings_read)
        if own is None:  # the list of a station
            return None if held & readers else Denial(403, P.bookings_read)
        readable = P.bookings_read in held or (own and P.bookings_read_own in held)
        return None if readable else Denial(404, P.bookings_read)

    return check


def super_admin_only(persona: Persona) -> Denial | None:
    return None if persona.is_super_admin else Denial(403, P.users_manage)


@dataclass(frozen=True)
class Target:
    """A staff user an operation acts on: `role` at `station` (a super admin holds no station role)."""

    role: Role
    station: str | None

    @property
    def label(self) -> str:
        return self.role.value if self.station is None else f"{self.role.value}_at_{self.station}"


TARGETS = [*(Target(role, HOME) for role in STATION_ROLES), Target(Role.chef, OTHER),
           Target(Role.super_admin, None)]


def sees(target: Target) -> Check:
    def check(persona: Persona) -> Denial | None:
        visible = persona.is_super_admin or P.users_manage in persona.permissions_at(target.station)
        return None if visible else Denial(404, P.users_manage)

    return check


def may_manage(target: Target) -> Check:
    return super_admin_only if target.role is Role.super_admin else may_grant(target.role, target.station)


# --- the world each case runs in -----------------------------------------------------------------------------

@dataclass
class World:
    client: AsyncClient
    db: Database
    make_user: Callable[..., Awaitable[int]]
    persona: Persona
    stations: dict[str, int] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    user_id: int | None = None
    login_email: str | None = None  # the persona's, to sign in to the admin pages too
    own_chef_id: int | None = None  # the persona's own chef record at HOME, once made (one per station and user)
    _serial: itertools.count = field(default_factory=lambda: itertools.count(1))

    def email(self, what: str) -> str:
        return f"{what.replace('_', '-')}-{next(self._serial)}@example.com"

    async def add_user(self, target: Target) -> int:
        station = await self.db_station(target.station) if target.station else None
        return await self.make_user(self.email(target.role.value), target.role, station, password=None)

    async def db_station(self, code: str) -> Station:
        async with self.db.transaction(write=False) as session:
            return await session.get_one(Station, self.stations[code])

    async def role_of(self, user_id: int, station: str) -> str | None:
        async with self.db.transaction(write=False) as session:
            return await session.scalar(select(StationMembership.role).where(
                StationMembership.user_id == user_id, StationMembership.station_id == self.stations[station]))

    async def user(self, *, user_id: int | None = None, email: str | None = None) -> User | None:
        async with self.db.transaction(write=False) as session:
            if user_id is not None:
                return await session.get(User, user_id)
            return await session.scalar(select(User).where(User.email == email))


async def build_world(persona: Persona, client: AsyncClient, db: Database, make_station: Callable[..., Any],
                      make_user: Callable[..., Awaitable[int]], login: Callable[..., Any]) -> World:
    world = World(client=client, db=db, make_user=make_user, persona=persona)
    for code in (HOME, OTHER):
        world.stations[code] = (await make_station(code)).id
    if persona.signed_in:
        email = world.login_email = world.email(persona.name)
        if persona.is_super_admin:
            world.user_id = await make_user(email, Role.super_admin)
        else:
            (station, role), *more = persona.roles
            world.user_id = await make_user(email, role, await world.db_station(station))
            assert not more, "one role per persona keeps make_user enough"
        world.headers = await login(email)
    return world


# --- operations ----------------------------------------------------------------------------------------------

Verify = Callable[[Response, bool], Awaitable[None]]  # (response, whether the operation was applied)


@dataclass
class Call:
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    verify: Verify | None = None


Arrange = Callable[[World], Awaitable[Call]]


@dataclass(frozen=True)
class Case:
    method: str
    route: str  # the path template, exactly as in app.routes
    permission: Permission | None  # what the route's `require(...)` declares; None: signed in is enough
    checks: tuple[Check, ...]
    success: int
    arrange: Arrange
    variant: str = ""
    public: bool = False  # a public door with a staff side (signed in): anonymous callers are answered `success`
    alone: bool = False  # its check reads totals of the whole world (analytics, a segment's count): a world of its own

    @property
    def id(self) -> str:
        return f"{self.method} {self.route.removeprefix(API_PREFIX)}" + (f" [{self.variant}]" if self.variant else "")

    def expect(self, persona: Persona) -> Denial | None:
        if self.public and not persona.signed_in:
            return None
        return first_denial(self.checks, persona)


def first_denial(checks: tuple[Check, ...], persona: Persona) -> Denial | None:
    """What a case answers the persona: anonymous 401, else the first failing check's denial (None: allowed)."""
    if not persona.signed_in:
        return Denial(401, None)
    for check in checks:
        if (denial := check(persona)) is not None:
            return denial
    return None


def call(path: str, **kwargs: Any) -> Arrange:
    """A call with no data of its own; `{station_id}` is the HOME station."""

    async def arrange(world: World) -> Call:
        return Call(path.format(station_id=world.stations[HOME]), **kwargs)

    return arrange


async def confirm_totp(world: World) -> Call:
    code = "000000"
    if world.persona.signed_in:  # the happy path needs a started setup
        setup = await world.client.post(f"{API_PREFIX}/auth/totp/setup", headers=world.headers)
        assert setup.status_code == 200, setup.text
        code = pyotp.TOTP(setup.json()["secret"]).now()

    async def verify(_: Response, applied: bool) -> None:
        if world.user_id is not None:
            assert (await world.user(user_id=world.user_id)).totp_enabled is applied

    return Call(f"{API_PREFIX}/auth/totp/confirm", json={"code": code}, verify=verify)


async def create_station(world: World) -> Call:
    async def verify(response: Response, applied: bool) -> None:
        async with world.db.transaction(write=False) as session:
            exists = await session.scalar(select(Station.id).where(Station.code == "NEW")) is not None
        assert exists is applied

    return Call(f"{API_PREFIX}/stations", verify=verify, json={
        "code": "NEW", "name": "New station", "timezone": "America/Chicago", "latitude": 41.9, "longitude": -87.6,
        "address": {"line1": "1 State St", "city": "Chicago", "state": "IL", "zip_code": "60601"}})


async def rename_station(world: World) -> Call:
    async def verify(response: Response, applied: bool) -> None:
        assert ((await world.db_station(HOME)).name == "Renamed") is applied

    return Call(f"{API_PREFIX}/stations/{world.stations[HOME]}", json={"name": "Renamed"}, verify=verify)


def create_user(role: Role) -> Arrange:
    async def arrange(world: World) -> Call:
        email = world.email(f"new-{role.value}")
        body: dict[str, Any] = {"email": email, "name": "New Person", "role": role.value}
        if role is not Role.super_admin:
            body["station_id"] = world.stations[HOME]

        async def verify(response: Response, applied: bool) -> None:
            user = await world.user(email=email)
            assert (user is not None) is applied
            if user is not None:
                assert user.is_super_admin is (role is Role.super_admin)
                if role is not Role.super_admin:
                    assert await world.role_of(user.id, HOME) == role.value

        return Call(f"{API_PREFIX}/users", json=body, verify=verify)

    return arrange


def on_user(target: Target, action: str) -> Arrange:
    """GET /users/{id} (action ""), or POST /users/{id}/deactivate or /reactivate, on a fresh `target`."""

    async def arrange(world: World) -> Call:
        user_id = await world.add_user(target)
        if action == "reactivate":
            async with world.db.transaction() as session:
                await session.execute(update(User).where(User.id == user_id).values(is_active=False))

        async def verify(response: Response, applied: bool) -> None:
            if action == "":
                if applied:
                    assert response.json()["id"] == user_id
                return
            active = (await world.user(user_id=user_id)).is_active
            assert active is (applied if action == "reactivate" else not applied)

        path = f"{API_PREFIX}/users/{user_id}" + (f"/{action}" if action else "")
        return Call(path, json={"reason": "Left the company"} if action == "deactivate" else None, verify=verify)

    return arrange


def set_member(role: Role, current: Role | None) -> Arrange:
    """Grant `role` at HOME to someone of the other station (current None), or change a HOME member's role."""

    async def arrange(world: World) -> Call:
        user_id = await world.add_user(Target(current, HOME) if current else Target(Role.chef, OTHER))

        async def verify(response: Response, applied: bool) -> None:
            before = current.value if current else None
            assert await world.role_of(user_id, HOME) == (role.value if applied else before)

        return Call(f"{API_PREFIX}/stations/{world.stations[HOME]}/members",
                    json={"user_id": user_id, "role": role.value}, verify=verify)

    return arrange


def revoke_member(role: Role) -> Arrange:
    async def arrange(world: World) -> Call:
        user_id = await world.add_user(Target(role, HOME))

        async def verify(response: Response, applied: bool) -> None:
            assert await world.role_of(user_id, HOME) == (None if applied else role.value)

        return Call(f"{API_PREFIX}/stations/{world.stations[HOME]}/members/{user_id}",
                    params={"reason": "Moved away"}, verify=verify)

    return arrange


async def replace_rules(world: World) -> Call:
    async with world.db.transaction(write=False) as session:
        rules = (await get_rules(session, world.stations[HOME])).model_dump(mode="json")

    async def verify(response: Response, applied: bool) -> None:
        async with world.db.transaction(write=False) as session:
            assert ((await get_rules(session, world.stations[HOME])).deposit_cents == 12345) is applied

    return Call(f"{API_PREFIX}/stations/{world.stations[HOME]}/rules", json={**rules, "deposit_cents": 12345},
                verify=verify)


async def add_chef(world: World, *, own: bool = False, station: str = HOME) -> int:
    """A chef at `station`; `own`: the chef record of the persona's user (the persona `chef` is that chef)."""
    async with world.db.transaction() as session:
        chef = Chef(station_id=world.stations[station], name="Matrix Chef", working_weekdays=EVERY_WEEKDAY,
                    user_id=world.user_id if own else None)
        session.add(chef)
        await session.flush()
        return chef.id


async def time_off_of(world: World, chef_id: int) -> list[ChefTimeOff]:
    async with world.db.transaction(write=False) as session:
        return list(await session.scalars(select(ChefTimeOff).where(ChefTimeOff.chef_id == chef_id)))


async def create_chef(world: World) -> Call:
    async def verify(response: Response, applied: bool) -> None:
        async with world.db.transaction(write=False) as session:
            exists = await session.scalar(select(Chef.id).where(Chef.name == "New Chef")) is not None
        assert exists is applied

    return Call(f"{API_PREFIX}/stations/{world.stations[HOME]}/chefs", json={"name": "New Chef"}, verify=verify)


async def rename_chef(world: World) -> Call:
    chef_id = await add_chef(world)

    async def verify(response: Response, applied: bool) -> None:
        async with world.db.transaction(write=False) as session:
            assert ((await session.get_one(Chef, chef_id)).name == "Renamed Chef") is applied

    return Call(f"{API_PREFIX}/stations/{world.stations[HOME]}/chefs/{chef_id}", json={"name": "Renamed Chef"},
                verify=verify)


def chef_time_off(own: bool, write: bool) -> Arrange:
    """GET or POST /chefs/{chef_id}/time-off for the persona's own chef record or another chef's."""

    async def arrange(world: World) -> Call:
        chef_id = await own_chef(world) if own else await add_chef(world)
        path = f"{API_PREFIX}/stations/{world.stations[HOME]}/chefs/{chef_id}/time-off"
        if not write:
            return Call(path)

        async def verify(response: Response, applied: bool) -> None:
            rows = await time_off_of(world, chef_id)
            assert len(rows) == int(applied)
            if applied:  # a roster manager's entry is approved at once; a chef's own request awaits a decision
                manages = P.chefs_manage in world.persona.permissions_at(HOME)
                assert rows[0].status == (TimeOffStatus.approved if manages else TimeOffStatus.requested)

        return Call(path, json={"first_day": "2026-12-24", "last_day": "2026-12-26"}, verify=verify)

    return arrange


def decide_time_off(verb: str) -> Arrange:
    async def arrange(world: World) -> Call:
        chef_id = await add_chef(world)
        async with world.db.transaction() as session:
            time_off = ChefTimeOff(chef_id=chef_id, first_day=date(2026, 12, 24), last_day=date(2026, 12, 24),
                                   status=TimeOffStatus.requested)
            session.add(time_off)
            await session.flush()
            time_off_id = time_off.id

        async def verify(response: Response, applied: bool) -> None:
            decided = TimeOffStatus.approved if verb == "approve" else TimeOffStatus.rejected
            assert (await time_off_of(world, chef_id))[0].status == (decided if applied else TimeOffStatus.requested)

        return Call(f"{API_PREFIX}/stations/{world.stations[HOME]}/time-off/{time_off_id}/{verb}", verify=verify)

    return arrange


# --- bookings ---------------------------------------------------------------------------------------------------

def event_start(days: int) -> datetime:
    """18:00 in the stations' zone (America/Los_Angeles) `days` from today."""
    zone = ZoneInfo("America/Los_Angeles")
    return datetime.combine(datetime.now(zone).date() + timedelta(days=days), time(18), tzinfo=zone)


async def add_booking(world: World, *, days: int = 10, status: BookingStatus = BookingStatus.confirmed,
                      chef_id: int | None = None, station: str = HOME, **fields: Any) -> int:
    await add_chef(world, station=station)  # the capacity triggers need a chef for every holding booking
    return await insert_booking(world.db, await world.db_station(station), event_start(days), status=status,
                                chef_id=chef_id, **fields)


async def booking_row(world: World, booking_id: int) -> Booking:
    async with world.db.transaction(write=False) as session:
        return await session.get_one(Booking, booking_id)


def read_booking(own: bool, suffix: str = "") -> Arrange:
    async def arrange(world: World) -> Call:
        chef_id = await own_chef(world) if own else await add_chef(world)
        days = 40 + next(world._serial)  # a day of its own: the persona's one chef record may be booked already
        return Call(f"{API_PREFIX}/bookings/{await add_booking(world, chef_id=chef_id, days=days)}{suffix}")

    return arrange


def booking_action(action: str, applied_when: Callable[[Booking], bool], *, json: Any = None,
                   method_path: str | None = None, **setup: Any) -> Arrange:
    """POST/PATCH on a HOME booking set up by `setup`; `applied_when` tells from the row whether it happened."""

    async def arrange(world: World) -> Call:
        fields = dict(setup)
        if fields.pop("assigned", False):
            fields["chef_id"] = await add_chef(world)
        booking_id = await add_booking(world, **fields)

        async def verify(response: Response, applied: bool) -> None:
            assert applied_when(await booking_row(world, booking_id)) is applied

        path = f"{API_PREFIX}/bookings/{booking_id}" + (f"/{action}" if action else "")
        return Call(path, json=json, verify=verify)

    return arrange


def assign_chef_action() -> Arrange:
    async def arrange(world: World) -> Call:
        chef_id = await add_chef(world)
        booking_id = await add_booking(world)

        async def verify(response: Response, applied: bool) -> None:
            assert ((await booking_row(world, booking_id)).chef_id == chef_id) is applied

        return Call(f"{API_PREFIX}/bookings/{booking_id}/assign-chef", json={"chef_id": chef_id}, verify=verify)

    return arrange


# --- payments ---------------------------------------------------------------------------------------------------

DEPOSIT_CENTS = 10000  # the default rules' deposit, which insert_booking quotes with


async def add_payment(world: World, station: str = HOME) -> int:
    """A confirmed booking at `station` whose deposit was received in cash (a succeeded manual payment)."""
    booking = await booking_row(world, await add_booking(world, station=station))
    async with world.db.transaction() as session:
        payment = Payment(booking_id=booking.id, station_id=world.stations[station],
                          purpose=PaymentPurpose.deposit.value, method=PaymentMethod.cash.value,
                          status=PaymentStatus.succeeded.value, amount_cents=DEPOSIT_CENTS,
                          currency=booking.quote["currency"], reference="R-1", succeeded_at=datetime.now(UTC))
        session.add(payment)
        await session.flush()
        return payment.id


def paying_stations(persona: Persona) -> list[str]:
    """The stations whose payments the persona may read (every one for a super admin)."""
    return [code for code in (HOME, OTHER) if P.payments_read in persona.permissions_at(code)]


async def record_payment(world: World) -> Call:
    """A cash deposit against a HOME booking awaiting it: the payment is stored and the booking confirmed."""
    booking_id = await add_booking(world, status=BookingStatus.pending_deposit)

    async def verify(response: Response, applied: bool) -> None:
        async with world.db.transaction(write=False) as session:
            payments = list(await session.scalars(select(Payment).where(Payment.booking_id == booking_id)))
        assert len(payments) == int(applied)
        status = (await booking_row(world, booking_id)).status
        assert status == (BookingStatus.confirmed if applied else BookingStatus.pending_deposit).value
        if applied:
            (payment,) = payments
            assert (payment.method, payment.status, payment.purpose, payment.amount_cents, payment.reference) == (
                "cash", "succeeded", "deposit", DEPOSIT_CENTS, "R-1")
            assert payment.recorded_by_user_id == world.user_id
            assert response.json()["id"] == payment.id

    return Call(f"{API_PREFIX}/bookings/{booking_id}/payments", verify=verify,
                json={"method": "cash", "amount_cents": DEPOSIT_CENTS, "reference": "R-1"})


def scoped_list(path: str, add: Callable[[World, str], Awaitable[int]],
                in_scope: Callable[[Persona], list[str]], station: str | None) -> Arrange:
    """GET `path` (of every station in your scope, or `station_id` = `station`), with a row added at each station:
    of those two rows, exactly those of the stations in scope come back (the world's other cases add rows too)."""

    async def arrange(world: World) -> Call:
        ids = {code: await add(world, code) for code in (HOME, OTHER)}

        async def verify(response: Response, applied: bool) -> None:
            if applied:
                scope = [station] if station else in_scope(world.persona)
                listed = {item["id"] for item in response.json()["items"]} & set(ids.values())
                assert sorted(listed) == sorted(ids[c] for c in scope)

        params = {"station_id": world.stations[station]} if station else None
        return Call(f"{API_PREFIX}{path}", params=params, verify=verify)

    return arrange


def list_payments(station: str | None) -> Arrange:
    return scoped_list("/payments", add_payment, paying_stations, station)


def read_payment(station: str) -> Arrange:
    async def arrange(world: World) -> Call:
        payment_id = await add_payment(world, station)

        async def verify(response: Response, applied: bool) -> None:
            if applied:
                body = response.json()
                assert (body["id"], body["station_id"], body["refunds"]) == (payment_id, world.stations[station], [])

        return Call(f"{API_PREFIX}/payments/{payment_id}", verify=verify)

    return arrange


async def refund_payment(world: World) -> Call:
    """Part of a HOME cash payment given back: recorded at once, without Stripe, with the payment's method."""
    payment_id = await add_payment(world)

    async def verify(response: Response, applied: bool) -> None:
        async with world.db.transaction(write=False) as session:
            refunds = list(await session.scalars(select(Refund).where(Refund.payment_id == payment_id)))
        assert len(refunds) == int(applied)
        if applied:
            (refund,) = refunds
            assert (refund.amount_cents, refund.method, refund.status, refund.provider_refund_id) == (
                4000, PaymentMethod.cash.value, RefundStatus.succeeded.value, None)
            assert refund.requested_by_user_id == world.user_id
            assert response.json()["id"] == refund.id

    return Call(f"{API_PREFIX}/payments/{payment_id}/refunds", verify=verify,
                json={"amount_cents": 4000, "reason": "Two guests fewer than booked"})


# --- analytics --------------------------------------------------------------------------------------------------

ANALYTICS_PAYMENTS = {HOME: 1, OTHER: 2}  # succeeded deposits seeded per station: a total tells the scope apart


def analytics_stations(persona: Persona) -> list[str]:
    """The stations whose analytics the persona may read (every one for a super admin)."""
    return [code for code in (HOME, OTHER) if P.analytics_read in persona.permissions_at(code)]


def analytics_report(route: str, station: str | None) -> Arrange:
    """GET /analytics/payments or /analytics/kpis (of every station you may read, or `station_id` = `station`),
    with ANALYTICS_PAYMENTS confirmed bookings and their cash deposits at each station, received today: the
    figures are exactly those of the stations in scope."""

    async def arrange(world: World) -> Call:
        for code, count in ANALYTICS_PAYMENTS.items():
            for _ in range(count):
                await add_payment(world, code)
        today = datetime.now(ZoneInfo("America/Los_Angeles")).date()  # the stations' zone, as in event_start
        params: dict[str, Any] = {"start": (today - timedelta(days=1)).isoformat(),
                                  "end": (today + timedelta(days=14)).isoformat()}  # the events are in 10 days
        if station:
            params["station_id"] = world.stations[station]

        async def verify(response: Response, applied: bool) -> None:
            if not applied:
                return
            body = response.json()
            n = sum(ANALYTICS_PAYMENTS[code] for code in ([station] if station else analytics_stations(world.persona)))
            assert (body["station_id"], body["timezone"]) == (
                (world.stations[station], "America/Los_Angeles") if station else (None, None))
            if route == "payments":
                cents = n * DEPOSIT_CENTS
                assert body["totals"] == {"gross_cents": cents, "refunds_cents": 0, "net_cents": cents, "count": n}
                assert sum(b["count"] for b in body["buckets"]) == n
                assert body["by_method"] == ([{"method": "cash", "count": n, "gross_cents": cents,
                                               "refunds_cents": 0, "net_cents": cents}] if n else [])
            else:
                assert (body["revenue_cents"], body["deposits_collected_cents"]) == (n * DEPOSIT_CENTS,) * 2
                assert (body["bookings_by_status"]["confirmed"], body["upcoming_events"]) == (n, n)

        return Call(f"{API_PREFIX}/analytics/{route}", params=params, verify=verify)

    return arrange


# --- contacts ---------------------------------------------------------------------------------------------------

async def add_contact(world: World, station: str = HOME) -> int:
    """A contact with a lead at `station` (the contact form's door)."""
    async with world.db.transaction() as session:
        lead = await capture_lead(session, Inquiry(station_id=world.stations[station], source=LeadSource.contact_form,
                                                   name="Dana Reyes", email=world.email("contact")))
        return lead.contact_id


async def contact_exists(world: World, contact_id: int) -> bool:
    async with world.db.transaction(write=False) as session:
        return await session.get(Contact, contact_id) is not None


async def read_contact(world: World) -> Call:
    contact_id = await add_contact(world)

    async def verify(response: Response, applied: bool) -> None:
        if applied:
            assert response.json()["id"] == contact_id and len(response.json()["leads"]) == 1

    return Call(f"{API_PREFIX}/contacts/{contact_id}", verify=verify)


async def read_contact_consents(world: World) -> Call:
    contact_id = await add_contact(world)
    async with world.db.transaction() as session:
        await record_consent(session, contact_id, ConsentAction.granted, ConsentSource.footer_form)

    async def verify(response: Response, applied: bool) -> None:
        if applied:
            body = response.json()
            assert body["contact_id"] == contact_id and [e["action"] for e in body["items"]] == ["granted"]

    return Call(f"{API_PREFIX}/contacts/{contact_id}/consents", verify=verify)


def merge_contact(other_station: str) -> Arrange:
    """HOME's contact keeps, a contact of `other_station` is merged into it (and gone only when allowed)."""

    async def arrange(world: World) -> Call:
        keep, other = await add_contact(world), await add_contact(world, other_station)

        async def verify(response: Response, applied: bool) -> None:
            assert await contact_exists(world, other) is not applied
            assert await contact_exists(world, keep)

        return Call(f"{API_PREFIX}/contacts/{keep}/merge", json={"other_id": other}, verify=verify)

    return arrange


# --- leads ------------------------------------------------------------------------------------------------------


def works_leads(station: str) -> Check:
    """A lead is worked with `engagement` at its station; one you may not work does not exist for you (404)."""

    def check(persona: Persona) -> Denial | None:
        return None if P.engagement in persona.permissions_at(station) else Denial(404, P.engagement)

    return check


async def add_lead(world: World, station: str = HOME, **values: Any) -> int:
    """An open lead at `station` (through the public door's command), with `values` set on it."""
    async with world.db.transaction() as session:
        lead = await capture_lead(session, Inquiry(station_id=world.stations[station], source=LeadSource.contact_form,
                                                   name="Matrix Lead", email=world.email("lead")))
        for name, value in values.items():
            setattr(lead, name, value)
        return lead.id


async def lead_row(world: World, lead_id: int) -> Lead:
    async with world.db.transaction(write=False) as session:
        return await session.get_one(Lead, lead_id)


async def lead_notes(world: World, lead_id: int) -> list[str]:
    async with world.db.transaction(write=False) as session:
        return list(await session.scalars(select(LeadActivity.body).where(
            LeadActivity.lead_id == lead_id, LeadActivity.kind == "note")))


def lead_stations(persona: Persona) -> list[str]:
    return [code for code in (HOME, OTHER) if P.engagement in persona.permissions_at(code)]


def list_leads(station: str | None) -> Arrange:
    return scoped_list("/leads", add_lead, lead_stations, station)


def contact_cases() -> list[Case]:
    api, en = API_PREFIX, P.engagement
    return [
        Case("GET", f"{api}/contacts/{{contact_id}}", None, (holds(en, HOME),), 200, read_contact),
        Case("GET", f"{api}/contacts/{{contact_id}}/consents", None, (holds(en, HOME),), 200, read_contact_consents),
        *(Case("POST", f"{api}/contacts/{{contact_id}}/merge", None,
               (holds(en, HOME),) + ((holds(en, OTHER),) if station == OTHER else ()), 200, merge_contact(station),
               variant=f"other_at_{station}") for station in (HOME, OTHER)),
    ]


def read_lead(station: str) -> Arrange:
    async def arrange(world: World) -> Call:
        lead_id = await add_lead(world, station)

        async def verify(response: Response, applied: bool) -> None:
            if applied:
                assert (response.json()["id"], response.json()["activities"][0]["kind"]) == (lead_id, "inquiry")

        return Call(f"{API_PREFIX}/leads/{lead_id}", verify=verify)

    return arrange


async def move_lead(world: World) -> Call:
    lead_id = await add_lead(world)

    async def verify(response: Response, applied: bool) -> None:
        assert ((await lead_row(world, lead_id)).status == "contacted") is applied

    return Call(f"{API_PREFIX}/leads/{lead_id}", json={"status": "contacted"}, verify=verify)


async def log_lead_note(world: World) -> Call:
    lead_id = await add_lead(world)

    async def verify(response: Response, applied: bool) -> None:
        assert await lead_notes(world, lead_id) == (["Matrix note"] if applied else [])

    return Call(f"{API_PREFIX}/leads/{lead_id}/activities", json={"kind": "note", "body": "Matrix note"},
                verify=verify)


async def enter_lead(world: World) -> Call:
    """POST /leads: staff entry when signed in (`source: staff`), the public door when anonymous."""
    email = world.email("asked")

    async def verify(response: Response, applied: bool) -> None:
        async with world.db.transaction(write=False) as session:
            lead = await session.scalar(select(Lead).where(Lead.email == email))
        assert (lead is not None) is applied
        if lead is not None:
            assert lead.source == ("staff" if world.persona.signed_in else "contact_form")
            assert response.json() == {"id": lead.id, "status": "new"}

    return Call(f"{API_PREFIX}/leads", json={"station_id": world.stations[HOME], "name": "Asked Person",
                                             "email": email}, verify=verify)


# --- newsletters ------------------------------------------------------------------------------------------------
# Segments and campaigns are read with `engagement` at their station (another station's do not exist: 404) and
# written with `newsletters.send` there (SPEC §7). The routes declare no permission: the commands and queries do.


async def add_segment(world: World, station: str = HOME, *, reachable: bool = False) -> int:
    """A segment of everyone at `station`; `reachable`: with one confirmed subscriber there, so it may be sent to."""
    async with world.db.transaction() as session:
        if reachable:
            contact = await find_or_create_contact(session, Identity(email=world.email("fan")), name="Fan")
            for action in (ConsentAction.granted, ConsentAction.confirmed):
                await record_consent(session, contact.id, action, ConsentSource.footer_form,
                                     station_id=world.stations[station])
        segment = Segment(station_id=world.stations[station], name="Matrix segment", rules={})
        session.add(segment)
        await session.flush()
        return segment.id


async def segment_row(world: World, segment_id: int) -> Segment | None:
    async with world.db.transaction(write=False) as session:
        return await session.get(Segment, segment_id)


async def add_campaign(world: World, station: str = HOME, **values: Any) -> int:
    """A draft at `station` to a segment that may be sent to, with `values` set on it."""
    segment_id = await add_segment(world, station, reachable=True)
    async with world.db.transaction() as session:
        campaign = Campaign(station_id=world.stations[station], name="Matrix campaign", subject="Matrix news",
                            body_markdown="Hello", segment_id=segment_id, status=CampaignStatus.draft.value)
        for name, value in values.items():
            setattr(campaign, name, value)
        session.add(campaign)
        await session.flush()
        return campaign.id


async def campaign_row(world: World, campaign_id: int) -> Campaign:
    async with world.db.transaction(write=False) as session:
        return await session.get_one(Campaign, campaign_id)


async def emails_about(world: World, about: str) -> int:
    async with world.db.transaction(write=False) as session:
        payloads = await session.scalars(select(OutboxMessage.payload).where(OutboxMessage.topic == "email.send"))
        return sum(payload.get("about") == about for payload in payloads)


def newsletter_stations(persona: Persona) -> list[str]:
    return [code for code in (HOME, OTHER) if P.engagement in persona.permissions_at(code)]


def list_campaigns(station: str | None) -> Arrange:
    return scoped_list("/campaigns", add_campaign, newsletter_stations, station)


async def create_segment(world: World) -> Call:
    async def verify(response: Response, applied: bool) -> None:
        async with world.db.transaction(write=False) as session:
            names = list(await session.scalars(select(Segment.name)))
        assert (names == ["Matrix made"]) is applied

    return Call(f"{API_PREFIX}/segments", json={"station_id": world.stations[HOME], "name": "Matrix made",
                                                "rules": {"customer_status": "past_customer"}}, verify=verify)


async def list_segments(world: World) -> Call:
    ids = {code: await add_segment(world, code) for code in (HOME, OTHER)}

    async def verify(response: Response, applied: bool) -> None:
        if applied:  # of the two just added (the world's other cases add segments too), HOME's alone
            assert [item["id"] for item in response.json()["items"] if item["id"] in ids.values()] == [ids[HOME]]

    return Call(f"{API_PREFIX}/segments", params={"station_id": world.stations[HOME]}, verify=verify)


def on_segment(path: str, station: str = HOME, *, method_json: Any = None) -> Arrange:
    """GET a segment (`path` "") or its preview, PATCH it (`method_json` its body) or DELETE it."""

    async def arrange(world: World) -> Call:
        segment_id = await add_segment(world, station, reachable=True)

        async def verify(response: Response, applied: bool) -> None:
            row = await segment_row(world, segment_id)
            if path == "delete":
                assert (row is None) is applied
            elif method_json is not None:
                assert (row is not None and row.name == "Renamed") is applied
            elif applied:
                body = response.json()
                assert body["id"] == segment_id if path == "" else body["count"] == 1

        route = f"{API_PREFIX}/segments/{segment_id}" + ("/preview" if path == "preview" else "")
        return Call(route, json=method_json, params={"reason": "Matrix tidy"} if path == "delete" else None,
                    verify=verify)

    return arrange


async def preview_rules(world: World) -> Call:
    await add_segment(world, reachable=True)

    async def verify(response: Response, applied: bool) -> None:
        if applied:
            assert response.json()["count"] == 1

    return Call(f"{API_PREFIX}/segments/preview", json={"station_id": world.stations[HOME], "rules": {}},
                verify=verify)


async def create_campaign(world: World) -> Call:
    async def verify(response: Response, applied: bool) -> None:
        async with world.db.transaction(write=False) as session:
            names = list(await session.scalars(select(Campaign.name)))
        assert (names == ["Matrix made"]) is applied

    return Call(f"{API_PREFIX}/campaigns", verify=verify, json={
        "station_id": world.stations[HOME], "name": "Matrix made", "subject": "News", "body_markdown": "Hi"})


async def preview_draft(world: World) -> Call:
    async def verify(response: Response, applied: bool) -> None:
        if applied:
            assert "<strong>Typed</strong>" in response.json()["html"]

    return Call(f"{API_PREFIX}/campaigns/preview", verify=verify, json={
        "station_id": world.stations[HOME], "subject": "Typed", "body_markdown": "**Typed**"})


def read_campaign(path: str, station: str = HOME) -> Arrange:
    async def arrange(world: World) -> Call:
        campaign_id = await add_campaign(world, station)

        async def verify(response: Response, applied: bool) -> None:
            if applied:
                body = response.json()
                assert {"": lambda: body["id"] == campaign_id, "/preview": lambda: body["subject"] == "Matrix news",
                        "/activity": lambda: body["campaign_id"] == campaign_id}[path]()

        return Call(f"{API_PREFIX}/campaigns/{campaign_id}{path}", verify=verify)

    return arrange


async def outbox_count(world: World, topic: str) -> int:
    async with world.db.transaction(write=False) as session:
        return await session.scalar(select(func.count()).where(OutboxMessage.topic == topic)) or 0


def campaign_move(action: str) -> Arrange:
    """PATCH a draft, or POST one of its moves from the status it needs; applied, the campaign moved (sending's
    job queued; a test emailed)."""
    later = datetime.now(UTC) + timedelta(days=3)
    starts = {"": {}, "test": {}, "send": {}, "pause": {"status": CampaignStatus.scheduled.value, "send_at": later},
              "resume": {"status": CampaignStatus.paused.value, "send_at": later}, "cancel": {}}
    bodies = {"": {"subject": "Edited"}, "test": {"email": "tester@example.com"}, "send": None, "pause": None,
              "resume": None, "cancel": {"reason": "Matrix cancel"}}
    moved = {"": lambda c: c.subject == "Edited", "test": lambda c: c.status == "draft",
             "send": lambda c: c.status != "draft", "pause": lambda c: c.status == "paused",
             "resume": lambda c: c.status == "scheduled", "cancel": lambda c: c.status == "cancelled"}

    topic = {"test": "email.send", "send": "newsletters.campaign_due"}.get(action)

    async def arrange(world: World) -> Call:
        campaign_id = await add_campaign(world, **starts[action])
        queued = await outbox_count(world, topic) if topic else 0  # the world's earlier cases queued some too

        async def verify(response: Response, applied: bool) -> None:
            campaign = await campaign_row(world, campaign_id)
            if topic:
                assert (await outbox_count(world, topic) > queued) is applied
            assert moved[action](campaign) is (applied or action == "test")

        return Call(f"{API_PREFIX}/campaigns/{campaign_id}" + (f"/{action}" if action else ""),
                    json=bodies[action], verify=verify)

    return arrange


# --- inbox ------------------------------------------------------------------------------------------------------


async def add_conversation(world: World, station: str = HOME) -> int:
    """A text from a new person at `station` (through the inbox's receive command)."""
    serial = int(world.email("sms").split("-")[1].split("@")[0])  # unique in this world
    async with world.db.transaction() as session:
        received = await inbox_commands.receive(session, Inbound(
            channel=Channel.sms, provider_message_id=f"SM{serial}", body="Price for 12?",
            phone=f"+1510555{serial % 10000:04d}", station_id=world.stations[station]))
        assert received is not None
        return received.conversation.id


async def add_web_chat(world: World, station: str = HOME, *, taken_by: int | None = None,
                       assignee_id: int | None = None) -> int:
    """A website chat from a new visitor at `station` (the assistant answers it), or one a person took already
    (`taken_by`), or assigned to someone (the assistant still answering)."""
    visitor = world.email("visitor").split("@")[0]  # unique in this world
    async with world.db.transaction() as session:
        received = await receive_visitor_message(session, visitor, None, "Is Dec 12 free?",
                                                 station_id=world.stations[station])
        assert received is not None
        if taken_by is not None or assignee_id is not None:
            await session.execute(update(Conversation).where(Conversation.id == received.conversation.id).values(
                handled_by="human" if taken_by is not None else "bot", assignee_id=taken_by or assignee_id))
        return received.conversation.id


async def conversation_row(world: World, conversation_id: int) -> Conversation:
    async with world.db.transaction(write=False) as session:
        return await session.get_one(Conversation, conversation_id)


async def staff_messages(world: World, conversation_id: int) -> list[str]:
    async with world.db.transaction(write=False) as session:
        return list(await session.scalars(select(InboxMessage.body).where(
            InboxMessage.conversation_id == conversation_id, InboxMessage.sender == "staff")))


async def conversation_labels(world: World, conversation_id: int) -> list[str]:
    async with world.db.transaction(write=False) as session:
        return list(await session.scalars(select(ConversationLabel.label).where(
            ConversationLabel.conversation_id == conversation_id)))


def list_conversations(station: str | None) -> Arrange:
    return scoped_list("/conversations", add_conversation, lead_stations, station)


def read_conversation(station: str) -> Arrange:
    async def arrange(world: World) -> Call:
        conversation_id = await add_conversation(world, station)

        async def verify(response: Response, applied: bool) -> None:
            if applied:
                body = response.json()
                assert (body["id"], [m["body"] for m in body["messages"]]) == (conversation_id, ["Price for 12?"])

        return Call(f"{API_PREFIX}/conversations/{conversation_id}", verify=verify)

    return arrange


def on_conversation(action: str) -> Arrange:
    async def arrange(world: World) -> Call:
        conversation_id = await add_conversation(world)

        async def verify(response: Response, applied: bool) -> None:
            row = await conversation_row(world, conversation_id)
            if action == "messages":
                assert (await staff_messages(world, conversation_id) == ["Matrix reply"]) is applied
            elif action == "read":
                assert (row.unread == 0) is applied
            else:
                assert (row.status == "resolved") is applied

        json = {"messages": {"body": "Matrix reply"}, "read": None, "": {"status": "resolved"}}[action]
        return Call(f"{API_PREFIX}/conversations/{conversation_id}" + (f"/{action}" if action else ""), json=json,
                    verify=verify)

    return arrange


def handoff(action: str) -> Arrange:
    """Taking a website chat over from the assistant (it becomes the caller's), or handing one a colleague took
    back to it."""

    async def arrange(world: World) -> Call:
        colleague = None if action == "take-over" else await world.add_user(Target(Role.support, HOME))
        conversation_id = await add_web_chat(world, taken_by=colleague)

        async def verify(response: Response, applied: bool) -> None:
            row = await conversation_row(world, conversation_id)
            if action == "take-over":
                assert ((row.handled_by, row.assignee_id) == ("human", world.user_id)) is applied
            else:
                assert (row.handled_by == "bot") is applied

        return Call(f"{API_PREFIX}/conversations/{conversation_id}/{action}", verify=verify)

    return arrange


async def add_canned_reply(world: World, station: str = HOME) -> int:
    async with world.db.transaction() as session:
        reply = CannedReply(station_id=world.stations[station], title="Matrix", body="A {deposit} deposit.")
        session.add(reply)
        await session.flush()
        return reply.id


async def canned_title(world: World, reply_id: int) -> str | None:
    async with world.db.transaction(write=False) as session:
        return await session.scalar(select(CannedReply.title).where(CannedReply.id == reply_id))


async def canned_count(world: World, title: str) -> int:
    async with world.db.transaction(write=False) as session:
        return await session.scalar(select(func.count()).where(CannedReply.title == title)) or 0


def on_canned_reply(method: str) -> Arrange:
    async def arrange(world: World) -> Call:
        reply_id = await add_canned_reply(world)

        async def verify(response: Response, applied: bool) -> None:
            expected = {"patch": "Renamed", "delete": None}[method]
            assert (await canned_title(world, reply_id) == expected) is applied

        return Call(f"{API_PREFIX}/canned-replies/{reply_id}", json={"title": "Renamed"} if method == "patch" else None,
                    verify=verify)

    return arrange


async def write_canned_reply(world: World) -> Call:
    written = await canned_count(world, "Deposit")  # by the world's earlier cases

    async def verify(response: Response, applied: bool) -> None:
        assert (await canned_count(world, "Deposit") == written + 1) is applied

    return Call(f"{API_PREFIX}/canned-replies", json={"station_id": world.stations[HOME], "title": "Deposit",
                                                      "body": "A {deposit} deposit."}, verify=verify)


async def list_canned(world: World) -> Call:
    reply_id = await add_canned_reply(world)

    async def verify(response: Response, applied: bool) -> None:
        if applied:
            assert reply_id in [r["id"] for r in response.json()]

    return Call(f"{API_PREFIX}/canned-replies", params={"station_id": world.stations[HOME]}, verify=verify)


async def thread_canned(world: World) -> Call:
    conversation_id = await add_conversation(world)
    await add_canned_reply(world)

    async def verify(response: Response, applied: bool) -> None:
        if applied:
            assert response.json()[0]["rendered"].startswith("A $")

    return Call(f"{API_PREFIX}/conversations/{conversation_id}/canned-replies", verify=verify)


async def quote_in_thread(world: World) -> Call:
    conversation_id = await add_conversation(world)

    async def verify(response: Response, applied: bool) -> None:
        assert (len(await staff_messages(world, conversation_id)) == 1) is applied

    return Call(f"{API_PREFIX}/conversations/{conversation_id}/quote", json={"zip_code": "94538", "adults": 10},
                verify=verify)


async def late_list(world: World) -> Call:
    async def verify(response: Response, applied: bool) -> None:
        if applied:
            assert isinstance(response.json(), list)

    return Call(f"{API_PREFIX}/inbox/late", params={"station_id": world.stations[HOME]}, verify=verify)


def inbox_cases() -> list[Case]:
    api, en = API_PREFIX, P.engagement
    return [
        Case("GET", f"{api}/conversations", None, (holds(en),), 200, list_conversations(None)),
        Case("GET", f"{api}/conversations", None, (holds(en, HOME),), 200, list_conversations(HOME),
             variant="station_id=HOME"),
        *(Case("GET", f"{api}/conversations/{{conversation_id}}", None, (works_leads(code),), 200,
               read_conversation(code), variant=f"conversation_at_{code}") for code in (HOME, OTHER)),
        Case("POST", f"{api}/conversations/{{conversation_id}}/messages", None, (works_leads(HOME),), 201,
             on_conversation("messages")),
        Case("POST", f"{api}/conversations/{{conversation_id}}/read", None, (works_leads(HOME),), 200,
             on_conversation("read")),
        Case("PATCH", f"{api}/conversations/{{conversation_id}}", None, (works_leads(HOME),), 200,
             on_conversation("")),
        *(Case("POST", f"{api}/conversations/{{conversation_id}}/{action}", None, (works_leads(HOME),), 200,
               handoff(action)) for action in ("take-over", "hand-back")),
        Case("GET", f"{api}/canned-replies", en, (holds(en, HOME),), 200, list_canned),
        Case("POST", f"{api}/canned-replies", None, (holds(en, HOME),), 201, write_canned_reply),
        Case("PATCH", f"{api}/canned-replies/{{reply_id}}", None, (holds(en, HOME),), 200, on_canned_reply("patch")),
        Case("DELETE", f"{api}/canned-replies/{{reply_id}}", None, (holds(en, HOME),), 204,
             on_canned_reply("delete")),
        Case("GET", f"{api}/conversations/{{conversation_id}}/canned-replies", None, (works_leads(HOME),), 200,
             thread_canned),
        Case("POST", f"{api}/conversations/{{conversation_id}}/quote", None, (works_leads(HOME),), 201,
             quote_in_thread),
        Case("GET", f"{api}/inbox/late", en, (holds(en, HOME),), 200, late_list),
    ]


def newsletter_cases() -> list[Case]:
    api, en, ns = API_PREFIX, P.engagement, P.newsletters_send
    reads, writes = (works_leads(HOME),), (works_leads(HOME), holds(ns, HOME))
    return [
        Case("POST", f"{api}/segments", None, (holds(ns, HOME),), 201, create_segment),
        Case("GET", f"{api}/segments", None, (holds(en, HOME),), 200, list_segments),
        Case("POST", f"{api}/segments/preview", None, (holds(en, HOME),), 200, preview_rules, alone=True),
        *(Case("GET", f"{api}/segments/{{segment_id}}", None, (works_leads(code),), 200, on_segment("", code),
               variant=f"segment_at_{code}") for code in (HOME, OTHER)),
        Case("GET", f"{api}/segments/{{segment_id}}/preview", None, reads, 200, on_segment("preview"), alone=True),
        Case("PATCH", f"{api}/segments/{{segment_id}}", None, writes, 200,
             on_segment("", method_json={"name": "Renamed"})),
        Case("DELETE", f"{api}/segments/{{segment_id}}", None, writes, 204, on_segment("delete")),
        Case("POST", f"{api}/campaigns", None, (holds(ns, HOME),), 201, create_campaign),
        Case("GET", f"{api}/campaigns", None, (holds(en),), 200, list_campaigns(None)),
        Case("GET", f"{api}/campaigns", None, (holds(en, HOME),), 200, list_campaigns(HOME),
             variant="station_id=HOME"),
        Case("POST", f"{api}/campaigns/preview", None, (holds(en, HOME),), 200, preview_draft),
        *(Case("GET", f"{api}/campaigns/{{campaign_id}}", None, (works_leads(code),), 200, read_campaign("", code),
               variant=f"campaign_at_{code}") for code in (HOME, OTHER)),
        *(Case("GET", f"{api}/campaigns/{{campaign_id}}{path}", None, reads, 200, read_campaign(path))
          for path in ("/preview", "/activity")),
        Case("PATCH", f"{api}/campaigns/{{campaign_id}}", None, writes, 200, campaign_move("")),
        *(Case("POST", f"{api}/campaigns/{{campaign_id}}/{action}", None, writes, 202 if action == "test" else 200,
               campaign_move(action)) for action in ("test", "send", "pause", "resume", "cancel")),
    ]


def build_cases() -> list[Case]:
    api = API_PREFIX
    um, cm = P.users_manage, P.chefs_manage
    cases = [
        Case("GET", f"{api}/auth/me", None, (), 200, call(f"{api}/auth/me")),
        Case("POST", f"{api}/auth/totp/setup", None, (), 200, call(f"{api}/auth/totp/setup")),
        Case("POST", f"{api}/auth/totp/confirm", None, (), 204, confirm_totp),
        Case("POST", f"{api}/auth/totp/disable", None, (), 204,
             call(f"{api}/auth/totp/disable", json={"password": PASSWORD})),
        Case("POST", f"{api}/stations", P.stations_manage, (holds(P.stations_manage),), 201, create_station),
        Case("GET", f"{api}/stations/{{station_id}}", P.stations_read, (holds(P.stations_read, HOME),), 200,
             call(f"{api}/stations/{{station_id}}")),
        Case("PATCH", f"{api}/stations/{{station_id}}", P.stations_manage, (holds(P.stations_manage, HOME),), 200,
             rename_station),
        Case("GET", f"{api}/stations/{{station_id}}/rules", P.rules_manage, (holds(P.rules_manage, HOME),), 200,
             call(f"{api}/stations/{{station_id}}/rules")),
        Case("PUT", f"{api}/stations/{{station_id}}/rules", P.rules_manage, (holds(P.rules_manage, HOME),), 200,
             replace_rules),
        Case("GET", f"{api}/stations/{{station_id}}/chefs", cm, (holds(cm, HOME),), 200,
             call(f"{api}/stations/{{station_id}}/chefs")),
        Case("POST", f"{api}/stations/{{station_id}}/chefs", cm, (holds(cm, HOME),), 201, create_chef),
        Case("GET", f"{api}/stations/{{station_id}}/chefs/on-duty", cm, (holds(cm, HOME),), 200,
             call(f"{api}/stations/{{station_id}}/chefs/on-duty", params={"date": "2026-12-24"})),
        Case("PATCH", f"{api}/stations/{{station_id}}/chefs/{{chef_id}}", cm, (holds(cm, HOME),), 200, rename_chef),
        *(Case(method, f"{api}/stations/{{station_id}}/chefs/{{chef_id}}/time-off", None, (manages_or_own(own),),
               201 if method == "POST" else 200, chef_time_off(own, method == "POST"),
               variant="own_chef" if own else "another_chef")
          for method in ("GET", "POST") for own in (True, False)),
        Case("GET", f"{api}/stations/{{station_id}}/time-off", cm, (holds(cm, HOME),), 200,
             call(f"{api}/stations/{{station_id}}/time-off")),
        *(Case("POST", f"{api}/stations/{{station_id}}/time-off/{{time_off_id}}/{verb}", cm, (holds(cm, HOME),), 200,
               decide_time_off(verb)) for verb in ("approve", "reject")),
        Case("GET", f"{api}/users", um, (holds(um),), 200, call(f"{api}/users")),
        Case("GET", f"{api}/users", um, (holds(um, HOME),), 200, variant="station_id=HOME",
             arrange=lambda w: call(f"{api}/users", params={"station_id": w.stations[HOME]})(w)),
        *(Case("POST", f"{api}/users", um, (holds(um), holds(um, HOME), may_grant(role)), 201, create_user(role),
               variant=f"{role.value}_at_HOME") for role in STATION_ROLES),
        Case("POST", f"{api}/users", um, (holds(um), super_admin_only), 201, create_user(Role.super_admin),
             variant="super_admin"),
        *(Case("GET", f"{api}/users/{{user_id}}", um, (holds(um), sees(t)), 200, on_user(t, ""), variant=t.label)
          for t in TARGETS),
        *(Case("POST", f"{api}/users/{{user_id}}/{action}", um, (holds(um), sees(t), may_manage(t)), 200,
               on_user(t, action), variant=t.label)
          for action in ("deactivate", "reactivate") for t in TARGETS),
        *(Case("POST", f"{api}/stations/{{station_id}}/members", um, (holds(um, HOME), may_grant(role)), 201,
               set_member(role, None), variant=f"grant_{role.value}") for role in STATION_ROLES),
        *(Case("POST", f"{api}/stations/{{station_id}}/members", um,
               (holds(um, HOME), may_grant(new), may_grant(old)), 200, set_member(new, old),
               variant=f"{old.value}_to_{new.value}")
          for old in STATION_ROLES for new in STATION_ROLES if new is not old),
        *(Case("DELETE", f"{api}/stations/{{station_id}}/members/{{user_id}}", um, (holds(um, HOME), may_grant(r)),
               204, revoke_member(r), variant=r.value) for r in STATION_ROLES),
        Case("GET", f"{api}/bookings", None, (reads_bookings(),), 200, call(f"{api}/bookings")),
        Case("GET", f"{api}/bookings", None, (reads_bookings(HOME, own=None),), 200, variant="station_id=HOME",
             arrange=lambda w: call(f"{api}/bookings", params={"station_id": w.stations[HOME]})(w)),
        *(Case("GET", f"{api}/bookings/{{booking_id}}", None, (reads_bookings(HOME, own=own),), 200,
               read_booking(own), variant="own_event" if own else "another_chefs_event") for own in (True, False)),
        *(Case("GET", f"{api}/bookings/{{booking_id}}/actions", None, (reads_bookings(HOME, own=own),), 200,
               read_booking(own, "/actions"), variant="own_event" if own else "another_chefs_event")
          for own in (True, False)),
        # The booking actions and the payments routes declare no permission: their commands and queries authorize
        # at the record's station.
        *(Case(method, f"{api}/bookings/{{booking_id}}{path}", None, (holds(perm, HOME),), 200, arrange)
          for method, path, perm, arrange in booking_actions()),
        Case("POST", f"{api}/bookings/{{booking_id}}/payments", None, (holds(P.payments_record, HOME),), 201,
             record_payment),
        Case("GET", f"{api}/payments", None, (holds(P.payments_read),), 200, list_payments(None)),
        Case("GET", f"{api}/payments", None, (holds(P.payments_read, HOME),), 200, list_payments(HOME),
             variant="station_id=HOME"),
        *(Case("GET", f"{api}/payments/{{payment_id}}", None, (holds(P.payments_read, station),), 200,
               read_payment(station), variant=f"payment_at_{station}") for station in (HOME, OTHER)),
        Case("POST", f"{api}/payments/{{payment_id}}/refunds", None, (holds(P.payments_refund, HOME),), 201,
             refund_payment),
        # Nor do the analytics routes: their queries authorize at the station asked about, or at every station.
        *(Case("GET", f"{api}/analytics/{route}", None, (holds(P.analytics_read),), 200,
               analytics_report(route, None), alone=True) for route in ("payments", "kpis")),
        *(Case("GET", f"{api}/analytics/{route}", None, (holds(P.analytics_read, station),), 200,
               analytics_report(route, station), variant=f"station_id={station}", alone=True)
          for route in ("payments", "kpis") for station in (HOME, OTHER)),
        Case("GET", f"{api}/audit-log", P.audit_read, (holds(P.audit_read),), 200, call(f"{api}/audit-log")),
        # Leads (SPEC §7): the routes declare no permission; the queries and commands authorize `engagement` at
        # the lead's station (another station's lead does not exist), or at some station for the whole list.
        Case("POST", f"{api}/leads", None, (holds(P.engagement, HOME),), 201, enter_lead, public=True),
        Case("GET", f"{api}/leads", None, (holds(P.engagement),), 200, list_leads(None)),
        Case("GET", f"{api}/leads", None, (holds(P.engagement, HOME),), 200, list_leads(HOME),
             variant="station_id=HOME"),
        *(Case("GET", f"{api}/leads/{{lead_id}}", None, (works_leads(code),), 200, read_lead(code),
               variant=f"lead_at_{code}") for code in (HOME, OTHER)),
        Case("PATCH", f"{api}/leads/{{lead_id}}", None, (works_leads(HOME),), 200, move_lead),
        Case("POST", f"{api}/leads/{{lead_id}}/activities", None, (works_leads(HOME),), 201, log_lead_note),
        Case("GET", f"{api}/audit-log", P.audit_read, (holds(P.audit_read, HOME),), 200, variant="station_id=HOME",
             arrange=lambda w: call(f"{api}/audit-log", params={"station_id": w.stations[HOME]})(w)),
        *contact_cases(),
        *newsletter_cases(),
        *inbox_cases(),
    ]
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return cases


def booking_actions() -> list[tuple[str, str, Permission, Arrange]]:
    confirmed, cancelled = BookingStatus.confirmed.value, BookingStatus.cancelled.value
    new_day = event_start(20).date().isoformat()
    return [
        ("POST", "/confirm", P.payments_record, booking_action(
            "confirm", lambda b: b.status == confirmed, status=BookingStatus.pending_deposit)),
        ("POST", "/reschedule", P.bookings_write, booking_action(
            "reschedule", lambda b: b.event_date.isoformat() == new_day,
            json={"event_date": new_day, "slot_time": "18:00"})),
        ("PATCH", "", P.bookings_write, booking_action("", lambda b: b.adults == 14, json={"adults": 14})),
        ("POST", "/assign-chef", P.chefs_manage, assign_chef_action()),
        ("POST", "/unassign-chef", P.chefs_manage, booking_action(
            "unassign-chef", lambda b: b.chef_id is None, assigned=True)),
        ("POST", "/cancel", P.bookings_cancel, booking_action(
            "cancel", lambda b: b.status == cancelled, json={"reason": "Customer called"})),
        ("POST", "/cancel-request", P.bookings_cancel_request, booking_action(
            "cancel-request", lambda b: b.cancel_requested_at is not None, json={"reason": "Customer called"})),
        ("POST", "/cancel-request/decline", P.bookings_cancel, booking_action(
            "cancel-request/decline", lambda b: b.cancel_requested_at is None,
            cancel_requested_at=datetime.now(UTC), cancel_request_reason="Customer called")),
        ("POST", "/complete", P.bookings_write, booking_action(
            "complete", lambda b: b.status == BookingStatus.completed.value, days=-1)),
        ("POST", "/no-show", P.bookings_write, booking_action(
            "no-show", lambda b: b.status == BookingStatus.no_show.value, days=-1)),
    ]


CASES = build_cases()
PROBLEM_CODES = {401: "not_authenticated", 403: "permission_denied", 404: "not_found"}


def denial_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """`permission_denied` events (structlog hands the event dict to stdlib logging as the record's msg)."""
    return [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == "permission_denied"]


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda persona: persona.name)
async def test_permission_matrix(persona: Persona, client, db, make_station, make_user, login,  # noqa: ANN001
                                 caplog: pytest.LogCaptureFixture) -> None:
    """Every API operation as one persona, in one world (each case arranges its own records and checks only those:
    building a world per case was most of the matrix's time); every disagreement is reported at once."""
    world = await build_world(persona, client, db, make_station, make_user, login)
    failures = []
    for case in CASES:
        if not case.alone:
            failures += [f"{case.id}: {problem}" for problem in await run_case(world, case, caplog)]
    if failures:
        pytest.fail(f"{persona.name}: {len(failures)} disagreement(s) in the API cases:\n" + "\n".join(failures),
                    pytrace=False)


@pytest.mark.parametrize(("case", "persona"), [
    pytest.param(case, persona, id=f"{case.id} as {persona.name}")
    for case in CASES if case.alone for persona in PERSONAS])
async def test_permission_matrix_alone(case: Case, persona: Persona, client, db, make_station, make_user,  # noqa: ANN001
                                       login, caplog: pytest.LogCaptureFixture) -> None:
    """The cases whose checks read totals of the whole world, each in a world of its own."""
    world = await build_world(persona, client, db, make_station, make_user, login)
    problems = await run_case(world, case, caplog)
    assert not problems, f"{case.id} as {persona.name}: " + "; ".join(problems)


async def run_case(world: World, case: Case, caplog: pytest.LogCaptureFixture) -> list[str]:
    """The case's call as the world's persona, and how its answer and effect disagree with the matrix."""
    request = await case.arrange(world)
    denial = case.expect(world.persona)
    caplog.clear()
    response = await world.client.request(case.method, request.path, json=request.json, params=request.params,
                                          headers=world.headers)
    events = [e for e in denial_events(caplog) if e.get("user_id") == world.user_id]
    problems = api_problems(denial, case.success, response, events)
    if request.verify is not None:  # a denied call changes nothing; an allowed one does what it says
        try:
            await request.verify(response, denial is None)
        except AssertionError as exc:
            problems.append(str(exc).splitlines()[0])
    return problems


def api_problems(denial: Denial | None, success: int, response: Response, events: list[dict[str, Any]]) -> list[str]:
    """How an API answer disagrees with the matrix: its status, its problem document, its denial log."""
    expected = denial.status if denial else success
    if response.status_code != expected:
        return [f"{response.status_code} instead of {expected}: {response.text[:300]}"]
    problems = []
    if denial and not response.headers["content-type"].startswith("application/problem+json"):
        problems.append("a denial that is not problem+json")
    elif denial and response.json()["code"] != PROBLEM_CODES[denial.status]:
        problems.append(f"code {response.json()['code']} instead of {PROBLEM_CODES[denial.status]}")
    logged = [e["permission"] for e in events]
    if denial is None and logged:
        problems.append("an allowed call logged a denial")
    elif denial is not None and denial.logged_permission is not None and logged != [denial.logged_permission.value]:
        problems.append(f"logged {logged} instead of {denial.logged_permission.value}")
    return problems


# --- the matrix covers the API ---------------------------------------------------------------------------------

def staff_routes(app) -> dict[tuple[str, str], RouteContext]:  # noqa: ANN001
    """Every JSON API operation not on a public router (app.routes holds included routers; flatten them)."""
    public = {route.endpoint for router in PUBLIC_ROUTERS for route in router.routes}
    return {
        (method, route.path): route
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute) and route.path.startswith(API_PREFIX + "/")
        and route.endpoint not in public
        for method in route.methods
    }


def dependency_calls(route: RouteContext) -> list[Any]:
    calls, stack = [], [route.dependant]
    while stack:
        dependant = stack.pop()
        calls.append(dependant.call)
        stack.extend(dependant.dependencies)
    return calls


async def test_every_staff_route_has_matrix_cases(app) -> None:  # noqa: ANN001
    routes = staff_routes(app)
    covered = {(case.method, case.route) for case in CASES if not case.public}
    public = {(method, route.path) for route in iter_route_contexts(app.routes)
              if isinstance(route.original_route, APIRoute) for method in route.methods} - set(routes)
    assert {(case.method, case.route) for case in CASES if case.public} <= public, "a public door that is not"
    assert len(routes) >= 15, sorted(routes)  # the enumeration itself found the staff API
    assert sorted(set(routes) - covered) == [], "staff routes without permission-matrix cases"
    assert sorted(covered - set(routes)) == [], "matrix cases for routes that do not exist"


async def test_every_staff_route_requires_sign_in_and_declares_the_matrix_permission(app) -> None:  # noqa: ANN001
    for key, route in staff_routes(app).items():
        calls = dependency_calls(route)
        assert current_principal in calls, f"{key} is reachable without signing in"
        declared = {perm for c in calls if (perm := getattr(c, "required_permission", None)) is not None}
        in_matrix = {case.permission for case in CASES if (case.method, case.route) == key} - {None}
        assert declared == in_matrix, f"{key}: route requires {declared}, the matrix assumes {in_matrix}"


def test_matrix_expectations_follow_the_table() -> None:
    """The rules read the table: every role's permissions decide somewhere, and grants follow GRANTABLE_ROLES."""
    by_name = {p.name: p for p in PERSONAS}
    for role in STATION_ROLES:
        persona = by_name[role.value]
        for permission in Permission:
            outcome = holds(permission, HOME)(persona)
            assert (outcome is None) is (permission in ROLE_PERMISSIONS[role])
        for grantee in STATION_ROLES:
            allowed = may_grant(grantee)(persona) is None
            assert allowed is (P.users_manage in ROLE_PERMISSIONS[role] and grantee in GRANTABLE_ROLES[role])
    # Every persona meets both outcomes somewhere in the matrix, so no row is trivially all-allowed or all-denied.
    for persona in PERSONAS[1:]:
        outcomes = {case.expect(persona) is None for case in CASES}
        assert outcomes == ({True} if persona.is_super_admin else {True, False}), persona.name


# === the admin pages =========================================================================================
#
# The same personas and check rules, asked through the admin's HTML pages (src/myhibachi/web/admin), which call
# the same commands and queries as the API: a page may not allow what the API refuses, nor refuse what it allows.
# How a page answers: anonymous, a redirect (303) to the sign-in page whose `next` is the page asked for; a denial,
# the refusal page ("Not allowed" 403, "Not found" 404, the denial logged as in the API); allowed, the page (200)
# or, for a confirmed form, a redirect (303) with the change in the database (a refused form changes nothing).
#
# Pages about "the station" (the list of bookings, the roster, users, payments …) read it from the switcher,
# `?station=HOME` here. A station where the persona holds no role is not refused: the page shows the first station
# they work at (web/admin/session.py `chosen_station`), so those pages' checks are made at that station
# (`at_shown`), and a record of HOME looked up there does not exist (`found_at`).

SIGN_IN_PAGE = "/admin/login"
REFUSAL_HEADINGS = {403: "Not allowed", 404: "Not found"}  # the refusal page's

# The admin routes that need no signed-in staff member, and why; every other admin route has cases below. (/static
# is not the admin's: web/assets.py serves the stylesheet and scripts to everyone.)
NO_SIGN_IN = {
    ("GET", "/admin/login"): "the sign-in form itself (a signed-in visitor is sent on to the page asked for)",
    ("POST", "/admin/login"): "signing in: the email, password and TOTP code are the credentials",
    ("POST", "/admin/logout"): "signing out: ends whatever session the cookie names, and answers anyone",
    ("GET", "/admin/set-password"): "opened from an invite or reset email: the token in the link is the credential",
    ("POST", "/admin/set-password"): "sets the password with that emailed token, not with a sign-in",
}

# The actions of /admin/bookings/{booking_id}/{action}, with the permission each needs at the booking's station
# (the API's for the same operation). Typed here on purpose, not read from the web module.
BOOKING_ACTIONS: dict[str, Permission] = {
    "payment": P.payments_record,
    "confirm": P.payments_record,
    "assign-chef": P.chefs_manage,
    "unassign-chef": P.chefs_manage,
    "reschedule": P.bookings_write,
    "party": P.bookings_write,
    "complete": P.bookings_write,
    "no-show": P.bookings_write,
    "cancel": P.bookings_cancel,
    "decline-cancellation": P.bookings_cancel,
    "cancel-request": P.bookings_cancel_request,
    "refund": P.payments_refund,
}


# --- rules for pages -----------------------------------------------------------------------------------------

AtStation = Callable[[str], Check]  # a check made at a station known only once the persona is


def shown_station(persona: Persona, asked: str = HOME) -> str:
    """The station a page shows for `?station=<asked>`: that one where the persona holds a role (a super admin
    anywhere), else the first they work at (the switcher lists stations by name: "Station HOME" < "Station OTHER",
    the order of the codes)."""
    if persona.role_at(asked) is not None:
        return asked
    worked = sorted(code for code, _ in persona.roles)
    assert worked, f"{persona.name} works at no station"
    return worked[0]


def at_shown(*rules: AtStation) -> Check:
    """A page of the station in the switcher: `rules`, in order, at the station it shows for ?station=HOME."""

    def check(persona: Persona) -> Denial | None:
        station = shown_station(persona)
        return next((denial for rule in rules if (denial := rule(station)(persona)) is not None), None)

    return check


def found_at(station: str) -> AtStation:
    """A record of `station` looked up among the shown station's: at another one it does not exist (404, and no
    permission was refused, so nothing is logged)."""

    def rule(shown: str) -> Check:
        return lambda persona: None if shown == station else Denial(404, None)

    return rule


def holds_some(*permissions: Permission) -> Check:
    """One of `permissions` at some station (else 403, logged as the last of them)."""

    def check(persona: Persona) -> Denial | None:
        return None if any(persona.holds_anywhere(p) for p in permissions) else Denial(403, permissions[-1])

    return check


def may_change(role: Role, station: str = HOME) -> Check:
    """The form that changes `role` into another: `role` must be one you may grant, and some other one too."""

    def check(persona: Persona) -> Denial | None:
        grantable = persona.grantable_at(station)
        return None if role in grantable and grantable - {role} else Denial(403, P.users_manage)

    return check


def allowed(check: Check, persona: Persona) -> bool:
    return check(persona) is None


# --- cases ---------------------------------------------------------------------------------------------------

@dataclass
class PageCall:
    path: str
    params: dict[str, Any] | None = None
    form: dict[str, Any] | None = None  # a POST's fields; the sign-in session's CSRF token is added
    json: Any = None  # a POST's JSON body instead (the CSRF token goes in the X-CSRF-Token header)
    verify: Verify | None = None
    files: dict[str, Any] | None = None  # a POST's uploads (then sent as multipart/form-data, with `form`)


PageArrange = Callable[[World], Awaitable[PageCall]]


@dataclass(frozen=True)
class PageCase:
    method: str
    route: str  # the path template, exactly as in app.routes
    checks: tuple[Check, ...]
    success: int  # what an allowed call answers
    arrange: PageArrange
    variant: str = ""
    scoped: bool = False  # a page of the switcher's station: asked with ?station=HOME, and it must show `shown_station`
    stream: bool = False  # the live event stream: read until its first line

    @property
    def id(self) -> str:
        return f"{self.method} {self.route}" + (f" [{self.variant}]" if self.variant else "")

    def expect(self, persona: Persona) -> Denial | None:
        return first_denial(self.checks, persona)


def effect(happened: bool, applied: bool, what: str) -> None:
    assert happened is applied, (f"{what}: done although it was refused" if happened else
                                 f"{what}: answered as done, but nothing changed")


def later(days: int) -> str:
    """A station-local date `days` from today."""
    return (datetime.now(ZoneInfo("America/Los_Angeles")).date() + timedelta(days=days)).isoformat()


def visit(path: str, *, verify: Callable[[World], Verify] | None = None) -> PageArrange:
    """A page with no data of its own; `{station_id}` is HOME."""

    async def arrange(world: World) -> PageCall:
        return PageCall(path.format(station_id=world.stations[HOME]), verify=verify(world) if verify else None)

    return arrange


async def own_chef(world: World) -> int:
    """The persona's own chef record at HOME (a station links a user to one chef at most)."""
    if world.own_chef_id is None:
        world.own_chef_id = await add_chef(world, own=True)
    return world.own_chef_id


# --- the dashboard, the event stream, the browser's error reports, my account --------------------------------

def dashboard_figures(world: World) -> Verify:
    async def verify(response: Response, applied: bool) -> None:
        if applied:  # the KPIs and revenue come from the analytics queries: only where analytics.read holds
            shown = allowed(holds(P.analytics_read, shown_station(world.persona)), world.persona)
            assert ("Revenue (net)" in response.text) is shown, f"the figures shown={not shown}"
            leads = allowed(holds(P.engagement, shown_station(world.persona)), world.persona)
            assert ('id="funnel-title"' in response.text) is leads, f"the lead panels shown={not leads}"

    return verify


def event_stream(world: World) -> Verify:
    async def verify(response: Response, applied: bool) -> None:
        if applied:
            assert response.headers["content-type"].startswith("text/event-stream"), response.headers
            assert response.text.startswith("retry: "), response.text[:100]

    return verify


async def client_error(world: World) -> PageCall:
    return PageCall("/admin/client-errors", json={"message": "TypeError: x is undefined", "url": "/admin"})


async def set_totp(world: World, *, secret: str | None, enabled: bool) -> None:
    if world.user_id is not None:
        async with world.db.transaction() as session:
            await session.execute(update(User).where(User.id == world.user_id).values(
                totp_secret=secret, totp_enabled=enabled))


def totp_step(step: str) -> PageArrange:
    """Two-factor sign-in: "setup" (a secret is made), "confirm" (a code turns it on), "disable" (the password
    turns it off), each from the state it needs."""

    async def arrange(world: World) -> PageCall:
        secret = pyotp.random_base32()
        await set_totp(world, secret=None if step == "setup" else secret, enabled=step == "disable")
        form = {"setup": {"go": "confirm"}, "confirm": {"code": pyotp.TOTP(secret).now()},
                "disable": {"password": PASSWORD, "go": "confirm"}}[step]

        async def verify(response: Response, applied: bool) -> None:
            if world.user_id is None:
                return
            user = await world.user(user_id=world.user_id)
            if step == "setup":
                effect(user.totp_secret is not None, applied, "a TOTP secret made")
            else:
                effect(user.totp_enabled is (step == "confirm"), applied, f"two-factor sign-in {step}d")

        return PageCall(f"/admin/settings/totp/{step}", form=form, verify=verify)

    return arrange


async def password_reset(world: World) -> PageCall:
    async def reset_tokens() -> int:
        async with world.db.transaction(write=False) as session:
            return len((await session.scalars(select(PasswordToken.id).where(
                PasswordToken.user_id == world.user_id, PasswordToken.purpose == "reset"))).all())

    before = await reset_tokens()

    async def verify(response: Response, applied: bool) -> None:
        effect(await reset_tokens() > before, applied, "a password link emailed")

    return PageCall("/admin/settings/password-reset", form={"go": "confirm"}, verify=verify)


# --- bookings ---------------------------------------------------------------------------------------------------

async def booking_list(world: World) -> PageCall:
    """The switcher's station's bookings (a chef's "My events"), with a booking at each station."""
    refs = {code: (await booking_row(world, await add_booking(world, station=code))).reference
            for code in (HOME, OTHER)}

    async def verify(response: Response, applied: bool) -> None:
        if not applied:
            return
        shown = shown_station(world.persona)
        every = allowed(holds(P.bookings_read, shown), world.persona)  # else only their own events
        heading = "Bookings" if every else "My events"
        assert f"<h1>{heading} — " in response.text, f"expected the heading {heading!r}"
        for code, reference in refs.items():
            assert (reference in response.text) is (every and code == shown), f"{code}'s booking listed"

    return PageCall("/admin/bookings", params={"limit": "100"}, verify=verify)


def finds(persona: Persona, station: str, own: bool) -> bool:
    """Whether a booking of `station` (the persona's own event or not) is one the persona reads."""
    held = persona.permissions_at(station)
    return P.bookings_read in held or (own and P.bookings_read_own in held)


async def prep_page(world: World) -> PageCall:
    """The switcher's station's prep list of a day, with a booking of the persona's own as a chef and another at
    HOME, and one at OTHER, each with a protein of its own: a protein is summed only where its booking is read."""
    days = 33  # a day no other case books
    booked = {"shrimp": await add_booking(world, days=days, chef_id=await own_chef(world), proteins={"shrimp": 20}),
              "tofu": await add_booking(world, days=days, proteins={"tofu": 20}),
              "calamari": await add_booking(world, days=days, station=OTHER, proteins={"calamari": 20})}
    assert len(set(booked.values())) == 3

    async def verify(response: Response, applied: bool) -> None:
        if not applied:
            return
        persona, shown = world.persona, shown_station(world.persona)
        every = allowed(holds(P.bookings_read, shown), persona)
        expected = {"shrimp": shown == HOME and (every or allowed(holds(P.bookings_read_own, HOME), persona)),
                    "tofu": every and shown == HOME, "calamari": every and shown == OTHER}
        for code, seen in expected.items():
            assert (f'<tr data-code="{code}"><th scope="row">' in response.text) is seen, f"{code} summed: {not seen}"

    return PageCall("/admin/prep", params={"day": event_start(days).date().isoformat()}, verify=verify)


async def run_sheet(world: World) -> PageCall:
    """The switcher's station's events of today: the persona's own event, another chef's, and one at OTHER."""
    made = [(code, own, await add_booking(world, days=0, station=code,
                                          chef_id=await own_chef(world) if own else None))
            for code, own in ((HOME, True), (HOME, False), (OTHER, False))]
    refs = [(code, own, (await booking_row(world, booking_id)).reference) for code, own, booking_id in made]

    async def verify(response: Response, applied: bool) -> None:
        if not applied:
            return
        shown = shown_station(world.persona)
        assert "<h1>Today — " in response.text, "expected the heading Today"
        for code, own, reference in refs:
            expected = code == shown and finds(world.persona, code, own)
            assert (reference in response.text) is expected, f"{code}'s {'own' if own else 'other'} event listed"

    return PageCall("/admin/today", verify=verify)


async def booking_search(world: World) -> PageCall:
    """A name three bookings share (the persona's own event, another chef's, one at OTHER), searched for: only those
    the persona reads are found, whichever station the switcher shows."""
    name = f"Searchable Person {next(world._serial)}"
    made = [(code, own, await add_booking(world, days=12, station=code, contact_name=name,  # a day of its own
                                          chef_id=await own_chef(world) if own else None))
            for code, own in ((HOME, True), (HOME, False), (OTHER, False))]
    refs = [(code, own, (await booking_row(world, booking_id)).reference) for code, own, booking_id in made]

    async def verify(response: Response, applied: bool) -> None:
        if not applied:
            return
        for code, own, reference in refs:
            expected = world.persona.is_super_admin or finds(world.persona, code, own)
            assert (reference in response.text) is expected, f"{code}'s {'own' if own else 'other'} booking found"

    return PageCall("/admin/search", params={"q": name.lower()}, verify=verify)


def booking_page(own: bool) -> PageArrange:
    async def arrange(world: World) -> PageCall:
        chef_id = await own_chef(world) if own else await add_chef(world)
        booking_id = await add_booking(world, chef_id=chef_id)
        reference = (await booking_row(world, booking_id)).reference

        async def verify(response: Response, applied: bool) -> None:
            if applied:
                assert reference in response.text, "the booking's reference is not on its page"

        return PageCall(f"/admin/bookings/{booking_id}", verify=verify)

    return arrange


async def home_rules(world: World) -> Any:
    async with world.db.transaction(write=False) as session:
        return await get_rules(session, world.stations[HOME])


async def payments_of(world: World, booking_id: int) -> list[Payment]:
    async with world.db.transaction(write=False) as session:
        return list(await session.scalars(select(Payment).where(Payment.booking_id == booking_id)))


async def refunds_of(world: World, payment_id: int) -> list[Refund]:
    async with world.db.transaction(write=False) as session:
        return list(await session.scalars(select(Refund).where(Refund.payment_id == payment_id)))


@dataclass
class Prepared:
    """A HOME booking ready for an action: the form that confirms it, and how to tell from the data it happened."""

    booking_id: int
    form: dict[str, Any]
    happened: Callable[[], Awaitable[bool]]


async def prepare(world: World, action: str) -> Prepared:
    now = datetime.now(UTC)

    def status_is(booking_id: int, status: BookingStatus) -> Callable[[], Awaitable[bool]]:
        async def happened() -> bool:
            return (await booking_row(world, booking_id)).status == status.value

        return happened

    if action in ("payment", "confirm"):
        booking_id = await add_booking(world, status=BookingStatus.pending_deposit)
        if action == "confirm":
            return Prepared(booking_id, {}, status_is(booking_id, BookingStatus.confirmed))

        async def paid() -> bool:  # the deposit recorded, which confirms the booking
            return bool(await payments_of(world, booking_id)) and await status_is(booking_id,
                                                                                   BookingStatus.confirmed)()

        return Prepared(booking_id, {"method": "cash", "amount": f"{DEPOSIT_CENTS / 100:.2f}", "reference": "R-1"},
                        paid)
    if action == "assign-chef":
        chef_id = await add_chef(world)
        booking_id = await add_booking(world)

        async def assigned() -> bool:
            return (await booking_row(world, booking_id)).chef_id == chef_id

        return Prepared(booking_id, {"chef_id": str(chef_id)}, assigned)
    if action == "unassign-chef":
        booking_id = await add_booking(world, chef_id=await add_chef(world))

        async def unassigned() -> bool:
            return (await booking_row(world, booking_id)).chef_id is None

        return Prepared(booking_id, {}, unassigned)
    if action == "reschedule":
        booking_id = await add_booking(world)
        new_day = event_start(20).date()
        fee = reschedule_terms(await home_rules(world), await booking_row(world, booking_id), now).fee_cents

        async def moved() -> bool:
            return (await booking_row(world, booking_id)).event_date == new_day

        return Prepared(booking_id, {"event_date": new_day.isoformat(), "slot_time": "18:00", "fee_cents": str(fee)},
                        moved)
    if action == "party":
        booking_id = await add_booking(world)
        quote = requote(await home_rules(world), await booking_row(world, booking_id), PartyChange(adults=14))

        async def changed() -> bool:
            return (await booking_row(world, booking_id)).adults == 14

        return Prepared(booking_id, {"adults": "14", "total_cents": str(quote.total_cents)}, changed)
    if action in ("complete", "no-show"):
        booking_id = await add_booking(world, days=-1)
        outcome = BookingStatus.completed if action == "complete" else BookingStatus.no_show
        return Prepared(booking_id, {}, status_is(booking_id, outcome))
    if action == "cancel":
        booking_id = await add_booking(world)
        terms = cancel_terms(await home_rules(world), await booking_row(world, booking_id), now, 0)
        return Prepared(booking_id, {"reason": "Customer called", "refund_cents": str(terms.refund_cents)},
                        status_is(booking_id, BookingStatus.cancelled))
    if action in ("cancel-request", "decline-cancellation"):
        asked = action == "decline-cancellation"
        request = {"cancel_requested_at": now, "cancel_request_reason": "Customer called"} if asked else {}
        booking_id = await add_booking(world, **request)

        async def flipped() -> bool:
            return ((await booking_row(world, booking_id)).cancel_requested_at is None) is asked

        return Prepared(booking_id, {} if asked else {"reason": "Customer called"}, flipped)
    if action == "refund":
        payment_id = await add_payment(world)
        async with world.db.transaction(write=False) as session:
            booking_id = (await session.get_one(Payment, payment_id)).booking_id

        async def refunded() -> bool:
            return bool(await refunds_of(world, payment_id))

        return Prepared(booking_id, {"payment_id": str(payment_id), "amount": "40.00", "method": "cash",
                                     "reason": "Two guests fewer than booked"}, refunded)
    raise ValueError(action)


def action_page(action: str, post: bool) -> PageArrange:
    """The action's page (GET: shows the consequence, changes nothing) or its confirmed form (POST)."""

    async def arrange(world: World) -> PageCall:
        prepared = await prepare(world, action)

        async def verify(response: Response, applied: bool) -> None:
            effect(await prepared.happened(), applied and post, f"the booking's {action}")

        return PageCall(f"/admin/bookings/{prepared.booking_id}/{action}", verify=verify,
                        form={**prepared.form, "go": "confirm"} if post else None)

    return arrange


# --- payments ---------------------------------------------------------------------------------------------------

def payment_list(csv: bool) -> PageArrange:
    """The switcher's station's payments (the page, or its CSV), with a payment at each station."""

    async def arrange(world: World) -> PageCall:
        ids = {code: await add_payment(world, code) for code in (HOME, OTHER)}

        async def verify(response: Response, applied: bool) -> None:
            if not applied:
                return
            if csv:
                assert response.headers["content-type"].startswith("text/csv"), response.headers
                listed = {line.split(",")[0] for line in response.text.splitlines()[1:]}
            else:
                listed = set(re.findall(r'href="/admin/payments/(\d+)"', response.text))
            shown = shown_station(world.persona)
            for code, payment_id in ids.items():
                assert (str(payment_id) in listed) is (code == shown), f"{code}'s payment listed"

        return PageCall("/admin/payments.csv" if csv else "/admin/payments", verify=verify)

    return arrange


def payment_page(station: str) -> PageArrange:
    async def arrange(world: World) -> PageCall:
        return PageCall(f"/admin/payments/{await add_payment(world, station)}")

    return arrange


def refund_page(post: bool) -> PageArrange:
    async def arrange(world: World) -> PageCall:
        payment_id = await add_payment(world)

        async def verify(response: Response, applied: bool) -> None:
            refunds = await refunds_of(world, payment_id)
            effect(bool(refunds), applied and post, "a refund")
            if refunds:
                assert (refunds[0].amount_cents, refunds[0].requested_by_user_id) == (4000, world.user_id)

        form = {"amount": "40.00", "reason": "Two guests fewer than booked", "go": "confirm"} if post else None
        return PageCall(f"/admin/payments/{payment_id}/refund", form=form, verify=verify)

    return arrange


# --- chefs ---------------------------------------------------------------------------------------------------

EVERY_DAY_FORM = {"weekday": [str(day) for day in EVERY_WEEKDAY], "is_active": "on"}


def roster(world: World) -> Verify:
    async def verify(response: Response, applied: bool) -> None:
        if applied:  # the roster for who manages it, else "My time off"
            manages = allowed(holds(P.chefs_manage, shown_station(world.persona)), world.persona)
            assert ('id="roster-title"' in response.text) is manages, f"the roster shown={not manages}"
            heading = "<h1>Chefs — " if manages else "<h1>My time off</h1>"
            assert heading in response.text, f"expected the heading {heading!r}"

    return verify


async def add_chef_form(world: World) -> PageCall:
    name = f"New Chef {next(world._serial)}"

    async def verify(response: Response, applied: bool) -> None:
        async with world.db.transaction(write=False) as session:
            station_id = await session.scalar(select(Chef.station_id).where(Chef.name == name))
        effect(station_id is not None, applied, "a chef added")
        if station_id is not None:  # to the switcher's station
            assert station_id == world.stations[shown_station(world.persona)]

    return PageCall("/admin/chefs/new", form={"name": name, **EVERY_DAY_FORM}, verify=verify)


def chef_page(post: bool) -> PageArrange:
    async def arrange(world: World) -> PageCall:
        chef_id = await add_chef(world)
        name = f"Renamed Chef {chef_id}"

        async def verify(response: Response, applied: bool) -> None:
            async with world.db.transaction(write=False) as session:
                effect((await session.get_one(Chef, chef_id)).name == name, applied and post, "the chef renamed")

        return PageCall(f"/admin/chefs/{chef_id}", form={"name": name, **EVERY_DAY_FORM} if post else None,
                        verify=verify)

    return arrange


def time_off_page(own: bool, post: bool) -> PageArrange:
    """A chef's time-off (the persona's own chef record or another's), or days off entered / asked for."""

    async def arrange(world: World) -> PageCall:
        chef_id = await own_chef(world) if own else await add_chef(world)
        before = len(await time_off_of(world, chef_id))

        async def verify(response: Response, applied: bool) -> None:
            rows = await time_off_of(world, chef_id)
            effect(len(rows) > before, applied and post, "time-off entered")
            if len(rows) > before:  # a roster manager's entry is approved at once; a chef's own awaits a decision
                manages = allowed(holds(P.chefs_manage, HOME), world.persona)
                assert rows[-1].status == (TimeOffStatus.approved if manages else TimeOffStatus.requested)

        form = {"first_day": later(40), "last_day": later(41), "reason": "Family"} if post else None
        return PageCall(f"/admin/chefs/{chef_id}/time-off", form=form, verify=verify)

    return arrange


def decision_page(decision: str, post: bool) -> PageArrange:
    async def arrange(world: World) -> PageCall:
        chef_id = await add_chef(world)
        async with world.db.transaction() as session:
            entry = ChefTimeOff(chef_id=chef_id, first_day=date.fromisoformat(later(40)),
                                last_day=date.fromisoformat(later(40)), status=TimeOffStatus.requested)
            session.add(entry)
            await session.flush()
            time_off_id = entry.id

        async def verify(response: Response, applied: bool) -> None:
            status = (await time_off_of(world, chef_id))[0].status
            effect(status != TimeOffStatus.requested, applied and post, f"the request {decision}d")
            if status != TimeOffStatus.requested:
                assert status == (TimeOffStatus.approved if decision == "approve" else TimeOffStatus.rejected)

        return PageCall(f"/admin/chefs/time-off/{time_off_id}/{decision}", verify=verify,
                        form={"go": "confirm"} if post else None)

    return arrange


# --- users ---------------------------------------------------------------------------------------------------

def offered_roles(world: World) -> Verify:
    async def verify(response: Response, applied: bool) -> None:
        if applied:  # the invite form offers exactly the roles the persona may grant at the station
            offered = set(re.findall(r'name="role" value="([^"]+)"', response.text))
            grantable = {r.value for r in world.persona.grantable_at(shown_station(world.persona))}
            assert offered == grantable, f"offers {sorted(offered)}, may grant {sorted(grantable)}"

    return verify


def invite(role: Role) -> PageArrange:
    async def arrange(world: World) -> PageCall:
        email = world.email(f"invited-{role.value}")

        async def verify(response: Response, applied: bool) -> None:
            user = await world.user(email=email)
            effect(user is not None, applied, f"a {role.value} invited")
            if user is not None:  # at the switcher's station
                assert await world.role_of(user.id, shown_station(world.persona)) == role.value

        return PageCall("/admin/users/new", form={"email": email, "name": "New Person", "role": role.value},
                        verify=verify)

    return arrange


def user_page(target: Target, action: str = "", *, post: bool = False) -> PageArrange:
    """The user's page (action ""), or the confirmation page of deactivate / reactivate, or it confirmed."""

    async def arrange(world: World) -> PageCall:
        user_id = await world.add_user(target)
        if action == "reactivate":
            async with world.db.transaction() as session:
                await session.execute(update(User).where(User.id == user_id).values(is_active=False))

        async def verify(response: Response, applied: bool) -> None:
            active = (await world.user(user_id=user_id)).is_active
            effect(active is (action == "reactivate"), applied and post and bool(action), f"the account {action}d")

        form = {"reason": "Left the company", "go": "confirm"} if post else None
        return PageCall(f"/admin/users/{user_id}" + (f"/{action}" if action else ""), form=form, verify=verify)

    return arrange


def membership_page(what: str, current: Role, new: Role | None = None, *, post: bool = False) -> PageArrange:
    """A HOME member holding `current`: the page that changes their role ("role", to `new` when posted) or
    takes it away ("remove")."""

    async def arrange(world: World) -> PageCall:
        user_id = await world.add_user(Target(current, HOME))

        async def verify(response: Response, applied: bool) -> None:
            after = new.value if what == "role" and new else None
            role = await world.role_of(user_id, HOME)
            effect(role == after and role != current.value, applied and post, f"the {current.value}'s role {what}")

        form = ({"role": new.value} if new else {"reason": "Moved away"}) | {"go": "confirm"} if post else None
        return PageCall(f"/admin/users/{user_id}/stations/{world.stations[HOME]}/{what}", form=form, verify=verify)

    return arrange


# --- stations and rules --------------------------------------------------------------------------------------

NEW_STATION = {"code": "NEW", "name": "New station", "timezone": "America/Chicago", "line1": "1 State St",
               "city": "Chicago", "state": "IL", "zip_code": "60601", "latitude": "41.9", "longitude": "-87.6"}


async def new_station(world: World) -> PageCall:
    async def verify(response: Response, applied: bool) -> None:
        async with world.db.transaction(write=False) as session:
            exists = await session.scalar(select(Station.id).where(Station.code == "NEW")) is not None
        effect(exists, applied, "a station created")

    return PageCall("/admin/stations/new", form=NEW_STATION, verify=verify)


def station_page(post: bool) -> PageArrange:
    async def arrange(world: World) -> PageCall:
        station = await world.db_station(HOME)
        form = {"name": "Renamed", "timezone": station.timezone, "line1": station.address_line1,
                "city": station.city, "state": station.state, "zip_code": station.zip_code,
                "latitude": str(station.latitude), "longitude": str(station.longitude), "is_active": "on"}

        async def verify(response: Response, applied: bool) -> None:
            effect((await world.db_station(HOME)).name == "Renamed", applied and post, "the station renamed")

        return PageCall(f"/admin/stations/{station.id}", form=form if post else None, verify=verify)

    return arrange


def rules_page(station: str, *, post: bool = False) -> PageArrange:
    async def arrange(world: World) -> PageCall:
        async def verify(response: Response, applied: bool) -> None:
            async with world.db.transaction(write=False) as session:
                saved = (await get_rules(session, world.stations[station])).deposit_cents == 12345
            effect(saved, applied and post, "the rules saved")

        form = {"deposit_cents": "123.45", "go": "confirm"} if post else None
        return PageCall(f"/admin/stations/{world.stations[station]}/rules", form=form, verify=verify)

    return arrange


async def rules_preview(world: World) -> PageCall:
    async def verify(response: Response, applied: bool) -> None:
        async with world.db.transaction(write=False) as session:
            saved = (await get_rules(session, world.stations[HOME])).deposit_cents == 12345
        effect(saved, False, "a preview saved the rules")

    return PageCall(f"/admin/stations/{world.stations[HOME]}/rules/preview", verify=verify,
                    form={"deposit_cents": "123.45", "preview_adults": "12"})


def contact_page(post: bool) -> PageArrange:
    """HOME's contact page, or merging another HOME contact into it (confirmed: the duplicate is gone)."""

    async def arrange(world: World) -> PageCall:
        keep = await add_contact(world)
        if not post:
            async def shows(response: Response, applied: bool) -> None:
                if applied:
                    assert "Dana Reyes" in response.text and "Merge a duplicate" in response.text

            return PageCall(f"/admin/contacts/{keep}", verify=shows)
        other = await add_contact(world)

        async def verify(response: Response, applied: bool) -> None:
            effect(not await contact_exists(world, other), applied, "merge")

        return PageCall(f"/admin/contacts/{keep}/merge", form={"go": "confirm", "other_id": str(other)},
                        verify=verify)

    return arrange


# --- subscribers ------------------------------------------------------------------------------------------------

async def add_subscriber(world: World, station: str = HOME) -> tuple[int, str]:
    """A confirmed subscriber of `station`: (contact id, address)."""
    email = world.email("subscriber")
    async with world.db.transaction() as session:
        contact = await find_or_create_contact(session, Identity(email=email), name="Sub Scriber")
        for action in (ConsentAction.granted, ConsentAction.confirmed):
            await record_consent(session, contact.id, action, ConsentSource.footer_form,
                                 station_id=world.stations[station])
    return contact.id, email


async def suppression_of_address(world: World, email: str) -> Suppression | None:
    async with world.db.transaction(write=False) as session:
        return await session.get(Suppression, email)


def sees_station_people(world: World, ids: dict[str, Any], permission: Permission) -> Verify:
    """A page listing subscribers (or an export): each station's person is there only where the persona holds
    `permission` (a super admin: everywhere)."""

    async def verify(response: Response, applied: bool) -> None:
        if applied:
            for code, marker in ids.items():
                listed = str(marker) in response.text
                assert listed is (permission in world.persona.permissions_at(code)), f"{code}'s listed: {listed}"

    return verify


def subscriber_list(suppressions: bool) -> PageArrange:
    async def arrange(world: World) -> PageCall:
        people = {code: await add_subscriber(world, code) for code in (HOME, OTHER)}
        if suppressions:
            async with world.db.transaction() as session:
                for _, email in people.values():
                    await suppress(session, email, SuppressionReason.hard_bounce, "sendgrid")
        markers = {code: email if suppressions else f'href="/admin/contacts/{cid}"'
                   for code, (cid, email) in people.items()}
        return PageCall("/admin/subscribers/suppressions" if suppressions else "/admin/subscribers",
                        verify=sees_station_people(world, markers, P.engagement))

    return arrange


async def subscriber_export(world: World) -> PageCall:
    people = {code: (await add_subscriber(world, code))[1] for code in (HOME, OTHER)}
    return PageCall("/admin/subscribers.csv", verify=sees_station_people(world, people, P.newsletters_send))


def change_suppression(action: str) -> PageArrange:
    """Suppressing HOME's subscriber by hand, or lifting their suppression (with a reason)."""

    async def arrange(world: World) -> PageCall:
        _, email = await add_subscriber(world)
        if action == "lift":
            async with world.db.transaction() as session:
                await suppress(session, email, SuppressionReason.manual, "staff")

        async def verify(response: Response, applied: bool) -> None:
            exists = await suppression_of_address(world, email) is not None
            effect(exists is (action == "add"), applied, f"{action} a suppression")

        form = {"go": action, "email": email, **({"reason": "Asked again"} if action == "lift" else {})}
        return PageCall("/admin/subscribers/suppressions", form=form, verify=verify)

    return arrange


async def subscriber_import(world: World) -> PageCall:
    email = world.email("imported")

    async def verify(response: Response, applied: bool) -> None:
        async with world.db.transaction(write=False) as session:
            imported = await find_contact(session, Identity(email=email)) is not None
        effect(imported, applied, "import")
        if applied:
            assert "Imported: 1 person" in response.text

    return PageCall("/admin/subscribers/import", form={"origin": "A paper list", "confirmed": "yes"},
                    files={"file": ("list.csv", f"email,name\n{email},Imported\n".encode(), "text/csv")},
                    verify=verify)


async def contact_tag(world: World) -> PageCall:
    contact_id = await add_contact(world)

    async def verify(response: Response, applied: bool) -> None:
        async with world.db.transaction(write=False) as session:
            tagged = await session.get(ContactTag, (contact_id, "vip")) is not None
        effect(tagged, applied, "tag")

    return PageCall(f"/admin/contacts/{contact_id}/tags", form={"go": "add", "tag": "VIP"}, verify=verify)


def subscriber_page_cases(station: Callable[[Permission], AtStation]) -> list[PageCase]:
    """Reading needs `engagement` (their stations' people only); the import (the switcher's station), suppression
    changes (an address of a station where they hold it) and the export need `newsletters.send`."""
    en, ns = P.engagement, P.newsletters_send
    return [
        PageCase("GET", "/admin/subscribers", (holds(en),), 200, subscriber_list(False)),
        PageCase("GET", "/admin/subscribers/suppressions", (holds(en),), 200, subscriber_list(True)),
        *(PageCase("POST", "/admin/subscribers/suppressions", (holds(ns), holds(ns, HOME)), 303,
                   change_suppression(action), variant=action) for action in ("add", "lift")),
        PageCase("GET", "/admin/subscribers/import", (at_shown(station(ns)),), 200, visit("/admin/subscribers/import"),
                 scoped=True),
        PageCase("POST", "/admin/subscribers/import", (at_shown(station(ns)),), 200, subscriber_import, scoped=True),
        PageCase("GET", "/admin/subscribers.csv", (holds(ns),), 200, subscriber_export),
        PageCase("POST", "/admin/contacts/{contact_id}/tags", (holds(en, HOME),), 303, contact_tag),
    ]


# --- leads ------------------------------------------------------------------------------------------------------

def lead_board(list_view: bool) -> PageArrange:
    """The switcher's station's leads (the board, or the list), with a lead at each station: only the shown
    station's is there."""

    async def arrange(world: World) -> PageCall:
        ids = {code: await add_lead(world, code) for code in (HOME, OTHER)}

        async def verify(response: Response, applied: bool) -> None:
            if applied:
                shown = shown_station(world.persona)
                for code, lead_id in ids.items():
                    listed = f'href="/admin/leads/{lead_id}"' in response.text
                    assert listed is (code == shown), f"{code}'s lead listed: {listed}"

        return PageCall("/admin/leads/list" if list_view else "/admin/leads", verify=verify)

    return arrange


async def new_lead_form(world: World) -> PageCall:
    email = world.email("walk-in")

    async def verify(response: Response, applied: bool) -> None:
        async with world.db.transaction(write=False) as session:
            lead = await session.scalar(select(Lead).where(Lead.email == email))
        effect(lead is not None, applied, "a lead entered")
        if lead is not None:  # at the switcher's station, by staff
            assert (lead.station_id, lead.source) == (world.stations[shown_station(world.persona)], "staff")

    return PageCall("/admin/leads/new", form={"name": "Walk In", "email": email, "guests": "12"}, verify=verify)


def lead_page(action: str = "", *, post: bool = False, station: str = HOME) -> PageArrange:
    """A lead's page (action ""), or one of its forms: the lost form's page (GET), or a form posted."""

    async def arrange(world: World) -> PageCall:
        owner = await world.add_user(Target(Role.support, HOME)) if action == "assign" else None
        lead_id = await add_lead(world, station)
        forms: dict[str, tuple[dict[str, Any], Callable[[Lead, list[str]], bool]]] = {
            "move": ({"status": "contacted"}, lambda lead, _: lead.status == "contacted"),
            "lost": ({"lost_reason": "price"}, lambda lead, _: (lead.status, lead.lost_reason) == ("lost", "price")),
            "activities": ({"kind": "note", "body": "Matrix note"}, lambda _, notes: notes == ["Matrix note"]),
            "assign": ({"assignee_id": str(owner)}, lambda lead, _: lead.assignee_id == owner),
            "follow-up": ({"follow_up": later(3) + "T10:00"}, lambda lead, _: lead.next_follow_up_at is not None),
        }

        async def verify(response: Response, applied: bool) -> None:
            if action in forms:
                happened = forms[action][1](await lead_row(world, lead_id), await lead_notes(world, lead_id))
                effect(happened, applied and post, f"the lead's {action}")
            elif applied:
                assert "Matrix Lead" in response.text, "the lead's name is not on its page"

        form = forms[action][0] if post else None
        return PageCall(f"/admin/leads/{lead_id}" + (f"/{action}" if action else ""), form=form, verify=verify)

    return arrange


# --- newsletters ------------------------------------------------------------------------------------------------

def newsletter_list(path: str) -> PageArrange:
    """The switcher's station's campaigns (or segments), with one at each station: only the shown one's listed."""

    async def arrange(world: World) -> PageCall:
        ids = {code: await (add_campaign if path == "/admin/campaigns" else add_segment)(world, code)
               for code in (HOME, OTHER)}

        async def verify(response: Response, applied: bool) -> None:
            if applied:
                shown = shown_station(world.persona)
                for code, record_id in ids.items():
                    listed = f'href="{path}/{record_id}"' in response.text
                    assert listed is (code == shown), f"{code}'s listed: {listed}"

        return PageCall(path, verify=verify)

    return arrange


def newsletter_new(path: str) -> PageArrange:
    """The new campaign's (or segment's) form posted: made at the switcher's station."""

    async def arrange(world: World) -> PageCall:
        model = Campaign if path == "/admin/campaigns/new" else Segment
        form = {"name": "Page made", "subject": "News", "body_markdown": "Hi"} if model is Campaign \
            else {"name": "Page made", "customer_status": "past_customer"}

        async def verify(response: Response, applied: bool) -> None:
            async with world.db.transaction(write=False) as session:
                made = await session.scalar(select(model).where(model.name == "Page made"))
            effect(made is not None, applied, "made")
            if made is not None:
                assert made.station_id == world.stations[shown_station(world.persona)]

        return PageCall(path, form=form, verify=verify)

    return arrange


# --- the inbox page ------------------------------------------------------------------------------------------------

def station_staff_only(persona: Persona) -> Denial | None:
    """"Assign to me" takes only the station's own staff (the command's rule): a super admin, a member of none, is
    told so beside the buttons (422, nothing logged)."""
    return Denial(422, None) if persona.is_super_admin else None


async def inbox_list(world: World) -> PageCall:
    """The switcher's station's conversations, with one at each station: only the shown one's listed."""
    ids = {code: await add_conversation(world, code) for code in (HOME, OTHER)}

    async def verify(response: Response, applied: bool) -> None:
        if applied:
            shown = shown_station(world.persona)
            for code, conversation_id in ids.items():
                listed = f'href="/admin/inbox/{conversation_id}?' in response.text
                assert listed is (code == shown), f"{code}'s conversation listed: {listed}"

    return PageCall("/admin/inbox", verify=verify)


def inbox_thread(station: str = HOME, action: str = "") -> PageArrange:
    """A conversation's thread (action ""), or one of its forms posted: a reply, resolve, assign to me, read, a
    label, a quote; a website chat taken over from the assistant, or handed back to it."""
    forms = {"messages": {"body": "Matrix reply"}, "status": {"status": "resolved"}, "assign": {}, "read": {},
             "labels": {"add": "matrix"}, "quote": {"zip_code": "94538", "adults": "10"}, "take-over": {},
             "hand-back": {}}

    async def arrange(world: World) -> PageCall:
        if action in ("take-over", "hand-back"):
            colleague = None if action == "take-over" else await world.add_user(Target(Role.support, HOME))
            conversation_id = await add_web_chat(world, station, taken_by=colleague)
        else:
            conversation_id = await add_conversation(world, station)

        async def verify(response: Response, applied: bool) -> None:
            row = await conversation_row(world, conversation_id)
            sent = await staff_messages(world, conversation_id)
            happened = {"messages": sent == ["Matrix reply"], "status": row.status == "resolved",
                        "assign": row.assignee_id is not None, "read": row.unread == 0,
                        "labels": await conversation_labels(world, conversation_id) == ["matrix"],
                        "quote": len(sent) == 1 and "10 adults" in sent[0],
                        "take-over": (row.handled_by, row.assignee_id) == ("human", world.user_id),
                        "hand-back": row.handled_by == "bot"}
            if action:
                effect(happened[action], applied, f"the conversation's {action}")
            elif applied:
                assert "Price for 12?" in response.text, "the message is not in its thread"

        path = f"/admin/inbox/{conversation_id}" + (f"/{action}" if action else "")
        return PageCall(path, form=forms[action] if action else None, verify=verify)

    return arrange


async def live_chat_list(world: World) -> PageCall:
    """The live chat widget's list: the persona's website chats, one at each station assigned to them (where the
    persona has a user); only those of the stations where they work the inbox are listed."""
    ids = {code: await add_web_chat(world, code, assignee_id=world.user_id) for code in (HOME, OTHER)}

    async def verify(response: Response, applied: bool) -> None:
        if applied:
            for code, conversation_id in ids.items():
                listed = f'data-live-chat-open="{conversation_id}"' in response.text
                works = P.engagement in world.persona.permissions_at(code)
                assert listed is works, f"{code}'s chat listed: {listed}"

    return PageCall("/admin/live-chat", verify=verify)


def live_chat_thread(station: str = HOME, *, post: bool = False) -> PageArrange:
    """The widget's thread of a website chat, or its reply box posted (the inbox's reply command)."""

    async def arrange(world: World) -> PageCall:
        conversation_id = await add_web_chat(world, station)

        async def verify(response: Response, applied: bool) -> None:
            if post:
                effect(await staff_messages(world, conversation_id) == ["Matrix reply"], applied, "the reply")
            elif applied:
                assert "Is Dec 12 free?" in response.text, "the message is not in the widget's thread"

        path = f"/admin/live-chat/{conversation_id}" + ("/messages" if post else "")
        return PageCall(path, form={"body": "Matrix reply"} if post else None, verify=verify)

    return arrange


def inbox_page_cases(station: Callable[[Permission], AtStation]) -> list[PageCase]:
    return [
        PageCase("GET", "/admin/inbox", (at_shown(station(P.engagement)),), 200, inbox_list, scoped=True),
        *(PageCase("GET", "/admin/inbox/{conversation_id}", (works_leads(code),), 200, inbox_thread(code),
                   variant=f"conversation_at_{code}") for code in (HOME, OTHER)),
        *(PageCase("POST", f"/admin/inbox/{{conversation_id}}/{action}", (works_leads(HOME),),
                   204 if action == "read" else 303, inbox_thread(action=action))
          for action in ("messages", "status", "read", "labels", "quote")),
        PageCase("POST", "/admin/inbox/{conversation_id}/assign", (works_leads(HOME), station_staff_only), 303,
                 inbox_thread(action="assign")),
        *(PageCase("POST", f"/admin/inbox/{{conversation_id}}/{action}", (works_leads(HOME),), 303,
                   inbox_thread(action=action)) for action in ("take-over", "hand-back")),
        # the live chat widget: the persona's website chats wherever they work the inbox; a chat's thread and reply
        PageCase("GET", "/admin/live-chat", (holds(P.engagement),), 200, live_chat_list),
        *(PageCase("GET", "/admin/live-chat/{conversation_id}", (works_leads(code),), 200, live_chat_thread(code),
                   variant=f"conversation_at_{code}") for code in (HOME, OTHER)),
        PageCase("POST", "/admin/live-chat/{conversation_id}/messages", (works_leads(HOME),), 200,
                 live_chat_thread(post=True)),
    ]


# --- automations and follow-up tasks ----------------------------------------------------------------------------

async def home_automation(world: World, kind: str = "thank_you") -> Automation:
    async with world.db.transaction() as session:
        made = await ensure_automations(session, world.stations[HOME])
    return next(a for a in made if a.kind == kind)


async def automations_list(world: World) -> PageCall:
    async def verify(response: Response, applied: bool) -> None:
        if applied:
            assert "Thank you and review request" in response.text and "Come back" in response.text

    return PageCall("/admin/automations", verify=verify)


def automation_page(action: str = "") -> PageArrange:
    """HOME's thank-you sequence: its editor (""), saving it with a new first subject, or previewing a step."""

    async def arrange(world: World) -> PageCall:
        automation = await home_automation(world)
        async with world.db.transaction(write=False) as session:
            [step] = await automation_steps(session, automation.id)
        subject = f"Matrix thanks {world.email('subject')}"  # new at each call: saving it is a change
        form = {"count": "1", "enabled": "on", "delay_1": "1", "unit_1": "days", "subject_1": subject,
                "body_1": step.body_markdown}

        async def verify(response: Response, applied: bool) -> None:
            async with world.db.transaction(write=False) as session:
                [saved] = await automation_steps(session, automation.id)
            effect(saved.subject == subject, applied and action == "save", "the steps saved")
            if applied and action != "save":
                assert "Matrix thanks" in response.text or "Thank you for celebrating" in response.text

        if action == "save":
            return PageCall(f"/admin/automations/{automation.id}", form={**form, "go": "save"}, verify=verify)
        if action == "preview":
            return PageCall(f"/admin/automations/{automation.id}/preview", params={"position": "1"}, form=form,
                            verify=verify)
        return PageCall(f"/admin/automations/{automation.id}", verify=verify)

    return arrange


def campaign_page(station: str = HOME, action: str = "", *, post: bool = False) -> PageArrange:
    """A campaign's page, its editor posted (action ""), or one of its moves posted from the status it needs."""
    later = datetime.now(UTC) + timedelta(days=3)
    starts = {"pause": {"status": CampaignStatus.scheduled.value, "send_at": later},
              "resume": {"status": CampaignStatus.paused.value, "send_at": later}}
    forms = {"": {"name": "Matrix campaign", "subject": "Edited", "body_markdown": "Hello", "segment_id": ""},
             "test": {"email": "tester@example.com"}, "send": {"go": "now"}, "pause": {}, "resume": {},
             "cancel": {"reason": "Matrix cancel"}}
    moved = {"": lambda c: c.subject == "Edited", "send": lambda c: c.status != "draft",
             "pause": lambda c: c.status == "paused", "resume": lambda c: c.status == "scheduled",
             "cancel": lambda c: c.status == "cancelled"}

    async def arrange(world: World) -> PageCall:
        campaign_id = await add_campaign(world, station, **starts.get(action, {}))

        async def verify(response: Response, applied: bool) -> None:
            if not post:
                if applied:
                    assert "Matrix campaign" in response.text, "the campaign is not on its page"
                return
            if action == "test":
                effect(await emails_about(world, f"campaign:{campaign_id}") == 1, applied, "a test emailed")
            else:
                effect(moved[action](await campaign_row(world, campaign_id)), applied, f"the campaign's {action}")

        path = f"/admin/campaigns/{campaign_id}" + (f"/{action}" if action else "")
        return PageCall(path, form=forms[action] if post else None, verify=verify)

    return arrange


def segment_page(station: str = HOME, *, post: bool = False, count: bool = False) -> PageArrange:
    async def arrange(world: World) -> PageCall:
        segment_id = await add_segment(world, station, reachable=True)

        async def verify(response: Response, applied: bool) -> None:
            if post:
                effect((await segment_row(world, segment_id)).name == "Renamed", applied, "the segment renamed")
            elif applied:
                assert ("audience-count" if count else "Matrix segment") in response.text, response.text[:300]

        if count:
            return PageCall("/admin/segments/count", params={"segment_id": segment_id}, verify=verify)
        return PageCall(f"/admin/segments/{segment_id}", form={"name": "Renamed"} if post else None, verify=verify)

    return arrange


def live_fragment(path: str) -> PageArrange:
    """The editors' htmx previews, of HOME: an email in a sandbox, or a count."""

    async def arrange(world: World) -> PageCall:
        await add_segment(world, HOME, reachable=True)

        async def verify(response: Response, applied: bool) -> None:
            if applied:
                assert ("sandbox srcdoc=" if "campaigns" in path else "audience-count") in response.text

        return PageCall(path, form={"station_id": str(world.stations[HOME]), "subject": "Hi",
                                    "body_markdown": "Hello"}, verify=verify)

    return arrange


def newsletter_page_cases(station: Callable[[Permission], AtStation]) -> list[PageCase]:
    en, ns = P.engagement, P.newsletters_send
    writes = (works_leads(HOME), holds(ns, HOME))
    return [
        *(PageCase("GET", path, (at_shown(station(en)),), 200, newsletter_list(path), scoped=True)
          for path in ("/admin/campaigns", "/admin/segments")),
        *(PageCase("GET", path, (at_shown(station(ns)),), 200, visit(path), scoped=True)
          for path in ("/admin/campaigns/new", "/admin/segments/new")),
        *(PageCase("POST", path, (at_shown(station(ns)),), 303, newsletter_new(path), scoped=True)
          for path in ("/admin/campaigns/new", "/admin/segments/new")),
        *(PageCase("POST", path, (holds(en, HOME),), 200, live_fragment(path))
          for path in ("/admin/campaigns/preview", "/admin/segments/preview")),
        PageCase("GET", "/admin/segments/count", (works_leads(HOME),), 200, segment_page(count=True)),
        *(PageCase("GET", "/admin/campaigns/{campaign_id}", (works_leads(code),), 200, campaign_page(code),
                   variant=f"campaign_at_{code}") for code in (HOME, OTHER)),
        PageCase("POST", "/admin/campaigns/{campaign_id}", writes, 303, campaign_page(post=True)),
        *(PageCase("POST", "/admin/campaigns/{campaign_id}/{action}", writes, 303,
                   campaign_page(action=action, post=True), variant=action)
          for action in ("test", "send", "pause", "resume", "cancel")),
        PageCase("GET", "/admin/segments/{segment_id}", (works_leads(HOME),), 200, segment_page()),
        PageCase("POST", "/admin/segments/{segment_id}", writes, 303, segment_page(post=True)),
    ]
async def task_done(world: World) -> PageCall:
    contact_id = await add_contact(world)
    async with world.db.transaction() as session:
        task = ContactTask(station_id=world.stations[HOME], contact_id=contact_id, title="Call back",
                           due_at=datetime.now(UTC))
        session.add(task)
        await session.flush()
        task_id = task.id

    async def verify(response: Response, applied: bool) -> None:
        async with world.db.transaction(write=False) as session:
            done = (await session.get_one(ContactTask, task_id)).done_at is not None
        effect(done, applied, "the task marked done")

    return PageCall(f"/admin/tasks/{task_id}/done", form={"back": f"/admin/contacts/{contact_id}"}, verify=verify)


# --- the table -----------------------------------------------------------------------------------------------

def build_page_cases() -> list[PageCase]:
    um, cm, rm = P.users_manage, P.chefs_manage, P.rules_manage

    def station(p: Permission) -> AtStation:
        return lambda s: holds(p, s)

    cases = [
        PageCase("GET", "/admin", (), 200, visit("/admin", verify=dashboard_figures), scoped=True),
        PageCase("GET", "/admin/events", (), 200, visit("/admin/events", verify=event_stream), stream=True),
        PageCase("POST", "/admin/client-errors", (), 204, client_error),
        PageCase("GET", "/admin/settings", (), 200, visit("/admin/settings")),
        *(PageCase("POST", f"/admin/settings/totp/{step}", (), 200 if step == "setup" else 303, totp_step(step))
          for step in ("setup", "confirm")),
        PageCase("GET", "/admin/settings/totp/disable", (), 200, visit("/admin/settings/totp/disable")),
        PageCase("POST", "/admin/settings/totp/disable", (), 303, totp_step("disable")),
        PageCase("POST", "/admin/settings/password-reset", (), 303, password_reset),
        # bookings: the list first (its page of 100 then holds the booking it looks for)
        PageCase("GET", "/admin/bookings", (at_shown(lambda s: reads_bookings(s, own=None)),), 200, booking_list,
                 scoped=True),
        # the kitchen's prep list of a day: the switcher's station, a chef's own events only
        PageCase("GET", "/admin/prep", (at_shown(lambda s: reads_bookings(s, own=None)),), 200, prep_page,
                 scoped=True),
        PageCase("GET", "/admin/today", (at_shown(lambda s: reads_bookings(s, own=None)),), 200, run_sheet,
                 scoped=True),
        PageCase("GET", "/admin/search", (reads_bookings(None),), 200, booking_search),
        *(PageCase("GET", "/admin/bookings/{booking_id}", (reads_bookings(HOME, own=own),), 200, booking_page(own),
                   variant="own_event" if own else "another_chefs_event") for own in (True, False)),
        # A booking action needs its permission at the booking's station, checked first, as the API's command does;
        # a refund (the payments domain's) reads the booking first (one you may not read does not exist), then
        # needs the permission for its payments.
        *(PageCase(method, "/admin/bookings/{booking_id}/{action}",
                   (reads_bookings(HOME), holds(permission, HOME)) if action == "refund"
                   else (holds(permission, HOME),),
                   303 if method == "POST" else 200, action_page(action, method == "POST"), variant=action)
          for method in ("GET", "POST") for action, permission in BOOKING_ACTIONS.items()),
        # payments
        *(PageCase("GET", route, (at_shown(station(P.payments_read)),), 200, payment_list(csv), scoped=True)
          for route, csv in (("/admin/payments", False), ("/admin/payments.csv", True))),
        *(PageCase("GET", "/admin/payments/{payment_id}", (holds(P.payments_read, code),), 200, payment_page(code),
                   variant=f"payment_at_{code}") for code in (HOME, OTHER)),
        PageCase("GET", "/admin/payments/{payment_id}/refund",
                 (holds(P.payments_read, HOME), holds(P.payments_refund, HOME)), 200, refund_page(post=False)),
        PageCase("POST", "/admin/payments/{payment_id}/refund", (holds(P.payments_refund, HOME),), 303,
                 refund_page(post=True)),
        # chefs: the roster for who manages it, a chef's own time-off for a chef
        PageCase("GET", "/admin/chefs", (at_shown(partial(manages_or_own, True)),), 200,
                 visit("/admin/chefs", verify=roster), scoped=True),
        PageCase("GET", "/admin/chefs/new", (at_shown(station(cm)),), 200, visit("/admin/chefs/new"), scoped=True),
        PageCase("POST", "/admin/chefs/new", (at_shown(station(cm)),), 303, add_chef_form, scoped=True),
        *(PageCase(method, "/admin/chefs/{chef_id}", (at_shown(found_at(HOME), station(cm)),),
                   303 if method == "POST" else 200, chef_page(method == "POST"), scoped=True)
          for method in ("GET", "POST")),
        *(PageCase(method, "/admin/chefs/{chef_id}/time-off", (at_shown(found_at(HOME), partial(manages_or_own, own)),),
                   303 if method == "POST" else 200, time_off_page(own, method == "POST"), scoped=True,
                   variant="own_chef" if own else "another_chef")
          for method in ("GET", "POST") for own in (True, False)),
        *(PageCase(method, "/admin/chefs/time-off/{time_off_id}/{decision}", (at_shown(station(cm), found_at(HOME)),),
                   303 if method == "POST" else 200, decision_page(decision, method == "POST"), scoped=True,
                   variant=decision)
          for method in ("GET", "POST") for decision in ("approve", "reject")),
        # users and roles
        PageCase("GET", "/admin/users", (at_shown(station(um)),), 200, visit("/admin/users"), scoped=True),
        PageCase("GET", "/admin/users/new", (at_shown(station(um)),), 200,
                 visit("/admin/users/new", verify=offered_roles), scoped=True),
        *(PageCase("POST", "/admin/users/new", (at_shown(station(um), partial(may_grant, role)),), 303, invite(role),
                   scoped=True, variant=role.value) for role in STATION_ROLES),
        *(PageCase("GET", "/admin/users/{user_id}", (sees(t),), 200, user_page(t), variant=t.label) for t in TARGETS),
        *(PageCase(method, "/admin/users/{user_id}/{action}", (sees(t), may_manage(t)),
                   303 if method == "POST" else 200, user_page(t, action, post=method == "POST"),
                   variant=f"{action} {t.label}")
          for method in ("GET", "POST") for action in ("deactivate", "reactivate") for t in TARGETS),
        *(PageCase("GET", "/admin/users/{user_id}/stations/{station_id}/role", (sees(Target(r, HOME)), may_change(r)),
                   200, membership_page("role", r), variant=r.value) for r in STATION_ROLES),
        *(PageCase("POST", "/admin/users/{user_id}/stations/{station_id}/role",
                   (sees(Target(old, HOME)), may_grant(new), may_grant(old)), 303,
                   membership_page("role", old, new, post=True), variant=f"{old.value}_to_{new.value}")
          for old in STATION_ROLES for new in STATION_ROLES if new is not old),
        *(PageCase(method, "/admin/users/{user_id}/stations/{station_id}/remove", (sees(Target(r, HOME)), may_grant(r)),
                   303 if method == "POST" else 200, membership_page("remove", r, post=method == "POST"),
                   variant=r.value) for method in ("GET", "POST") for r in STATION_ROLES),
        PageCase("GET", "/admin/audit", (holds(P.audit_read),), 200, visit("/admin/audit")),
        *(PageCase(method, route, (holds(P.engagement, HOME),), 303 if method == "POST" else 200,
                   contact_page(method == "POST"))
          for method, route in (("GET", "/admin/contacts/{contact_id}"),
                                ("POST", "/admin/contacts/{contact_id}/merge"))),
        *subscriber_page_cases(station),
        # leads: the board, the list and staff entry are the switcher's station's; a lead's pages need
        # `engagement` at the lead's station (another station's lead does not exist)
        *(PageCase("GET", route, (at_shown(station(P.engagement)),), 200, lead_board(list_view), scoped=True)
          for route, list_view in (("/admin/leads", False), ("/admin/leads/list", True))),
        PageCase("GET", "/admin/leads/new", (at_shown(station(P.engagement)),), 200, visit("/admin/leads/new"),
                 scoped=True),
        PageCase("POST", "/admin/leads/new", (at_shown(station(P.engagement)),), 303, new_lead_form, scoped=True),
        *(PageCase("GET", "/admin/leads/{lead_id}", (works_leads(code),), 200, lead_page(station=code),
                   variant=f"lead_at_{code}") for code in (HOME, OTHER)),
        PageCase("GET", "/admin/leads/{lead_id}/lost", (works_leads(HOME),), 200, lead_page("lost")),
        *(PageCase("POST", f"/admin/leads/{{lead_id}}/{action}", (works_leads(HOME),), 303,
                   lead_page(action, post=True))
          for action in ("move", "lost", "activities", "assign", "follow-up")),
        *inbox_page_cases(station),
        *newsletter_page_cases(station),
        # automations: the switcher's station's list; a sequence is read with `engagement` at its station and
        # changed with `newsletters.send`; a follow-up task is worked with `engagement`
        PageCase("GET", "/admin/automations", (at_shown(station(P.engagement)),), 200, automations_list,
                 scoped=True),
        PageCase("GET", "/admin/automations/{automation_id}", (holds(P.engagement, HOME),), 200, automation_page()),
        PageCase("POST", "/admin/automations/{automation_id}", (holds(P.newsletters_send, HOME),), 303,
                 automation_page("save")),
        PageCase("POST", "/admin/automations/{automation_id}/preview", (holds(P.engagement, HOME),), 200,
                 automation_page("preview")),
        PageCase("POST", "/admin/tasks/{task_id}/done", (holds(P.engagement, HOME),), 303, task_done),
        # stations and rules last: they rename HOME and change its rules
        PageCase("GET", "/admin/stations", (holds_some(P.stations_manage, rm),), 200, visit("/admin/stations")),
        PageCase("GET", "/admin/stations/new", (holds(P.stations_manage),), 200, visit("/admin/stations/new")),
        PageCase("POST", "/admin/stations/new", (holds(P.stations_manage),), 303, new_station),
        *(PageCase("GET", "/admin/stations/{station_id}/rules", (holds(rm, code),), 200, rules_page(code),
                   variant=f"station_id={code}") for code in (HOME, OTHER)),
        PageCase("POST", "/admin/stations/{station_id}/rules/preview", (holds(rm, HOME),), 200, rules_preview),
        PageCase("POST", "/admin/stations/{station_id}/rules", (holds(rm, HOME),), 303, rules_page(HOME, post=True)),
        *(PageCase(method, "/admin/stations/{station_id}", (holds(P.stations_manage, HOME),),
                   303 if method == "POST" else 200, station_page(method == "POST")) for method in ("GET", "POST")),
    ]
    ids = [case.id for case in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return cases


PAGE_CASES = build_page_cases()


# --- asking, and judging the answer --------------------------------------------------------------------------

async def first_lines(app: Any, client: AsyncClient, url: str) -> Response:
    """GET of a streamed page until its first chunk, then the browser goes away: the live event stream runs for
    half an hour, and httpx's ASGI transport would wait for its end."""
    messages: list[dict[str, Any]] = []
    first_chunk = asyncio.Event()
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await first_chunk.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)
        if message["type"] == "http.response.body":
            first_chunk.set()

    cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in client.cookies.jar)
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver")] + (
        [(b"cookie", cookies.encode())] if cookies else [])
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": url, "raw_path": url.encode(), "query_string": b"", "headers": headers,
             "server": ("testserver", 80), "client": ("203.0.113.7", 50000), "root_path": ""}
    await asyncio.wait_for(app(scope, receive, send), 10)
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return Response(start["status"], headers=start["headers"], content=body,
                    request=Request("GET", f"http://testserver{url}"))


async def ask(app: Any, world: World, case: PageCase, call: PageCall, csrf: str) -> Response:
    params = dict(call.params or {})
    if case.scoped:
        params["station"] = world.stations[HOME]
    if case.stream:
        return await first_lines(app, world.client, call.path)
    if case.method == "GET":
        return await world.client.get(call.path, params=params or None)
    if call.json is not None:
        return await world.client.post(call.path, params=params or None, json=call.json,
                                       headers={"X-CSRF-Token": csrf})
    return await world.client.post(call.path, params=params or None, data={"csrf_token": csrf, **(call.form or {})},
                                   files=call.files)


def gist(response: Response) -> str:
    """What a page said, in short: where it redirects, its heading and first paragraph, or its first words."""
    if "location" in response.headers:
        return f"→ {response.headers['location']}"
    if match := re.search(r"<h1>(.*?)</h1>\s*(?:<p[^>]*>(.*?)</p>)?", response.text, re.S):
        return " / ".join(part.strip() for part in match.groups() if part)
    return response.text[:200]


async def station_shown(world: World, html: str) -> str | None:
    """The station a page's header shows (the switcher's chosen option, or the one station's name), as a code."""
    if match := re.search(r'<option value="(\d+)" selected>', html):
        return next((code for code, sid in world.stations.items() if str(sid) == match[1]), match[1])
    if match := re.search(r'<p class="station-name">([^<]*)</p>', html):
        names = {(await world.db_station(code)).name: code for code in world.stations}
        return names.get(match[1], match[1])
    return None


async def judge(world: World, case: PageCase, denial: Denial | None, response: Response,
                logged: list[str]) -> list[str]:
    """How the answer disagrees with the expectation (nothing: it agrees)."""
    status, said = response.status_code, gist(response)
    if denial is not None and denial.status == 401:  # anonymous: to the sign-in page, and back here afterwards
        asked = response.request.url.raw_path.decode()
        location = urlsplit(response.headers.get("location", ""))
        back = parse_qs(location.query).get("next")
        if status != 303 or location.path != SIGN_IN_PAGE or back != (None if asked == "/admin" else [asked]):
            return [f"anonymous: answered {status} {said}, expected 303 → {SIGN_IN_PAGE}?next={asked}"]
        return []
    problems = []
    if denial is None:
        if status != case.success:
            problems.append(f"answered {status} ({said}), expected {case.success}: allowed")
        if logged:
            problems.append(f"allowed, but logged denials of {logged}")
        if case.scoped and status == 200 and response.headers["content-type"].startswith("text/html"):
            shown, expected = await station_shown(world, response.text), shown_station(world.persona)
            if shown != expected:
                problems.append(f"shows station {shown}, expected {expected}")
        return problems
    wanted = f"expected {denial.status}" + (f" (refused: {denial.logged_permission.value})"
                                            if denial.logged_permission else " (no such record there)")
    if status != denial.status:
        problems.append(f"answered {status} ({said}), {wanted}")
    elif status in REFUSAL_HEADINGS and f"<h1>{REFUSAL_HEADINGS[status]}</h1>" not in response.text:
        problems.append(f"answered {status} without the refusal page: {said}")
    expected_log = [denial.logged_permission.value] if denial.logged_permission else []
    if logged != expected_log:
        problems.append(f"logged denials of {logged}, expected {expected_log}")
    return problems


async def admin_sign_in(world: World) -> str:
    """Signs the world's client in to the admin pages; returns the sign-in session's CSRF token."""
    landed = await submit(world.client, read(await world.client.get(SIGN_IN_PAGE)), None, email=world.login_email,
                          password=PASSWORD)
    assert landed.response.status_code == 200 and "<h1>Dashboard" in landed.text, landed.text[:500]
    return await admin_csrf(world.client)


@pytest.mark.parametrize("persona", [pytest.param(persona, id=persona.name) for persona in PERSONAS])
async def test_admin_page_matrix(persona: Persona, app, client, db, make_station, make_user, login,  # noqa: ANN001
                                 caplog: pytest.LogCaptureFixture) -> None:
    """Every admin page as one persona, in one world (each case arranges its own records); every disagreement of
    the persona is reported at once."""
    world = await build_world(persona, client, db, make_station, make_user, login)
    csrf = await admin_sign_in(world) if persona.signed_in else ""
    failures = []
    for case in PAGE_CASES:
        call = await case.arrange(world)
        denial = case.expect(persona)
        caplog.clear()
        response = await ask(app, world, case, call, csrf)
        logged = [e["permission"] for e in denial_events(caplog) if e.get("user_id") == world.user_id]
        problems = await judge(world, case, denial, response, logged)
        if call.verify is not None:  # a denied call changes nothing; an allowed one does what it says
            try:
                await call.verify(response, denial is None)
            except AssertionError as exc:
                problems.append(str(exc).splitlines()[0])
        failures += [f"{case.id}: {problem}" for problem in problems]
    if failures:
        pytest.fail(f"{persona.name}: {len(failures)} disagreement(s) in {len(PAGE_CASES)} admin page cases:\n"
                    + "\n".join(failures), pytrace=False)


# --- the page matrix covers the admin ------------------------------------------------------------------------

def admin_routes(app) -> dict[tuple[str, str], RouteContext]:  # noqa: ANN001
    """Every route under /admin, and every route of the admin's modules wherever it is mounted."""
    return {
        (method, route.path): route
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
        and (route.path == "/admin" or route.path.startswith("/admin/")
             or route.endpoint.__module__.startswith("myhibachi.web.admin"))
        for method in route.methods
    }


async def test_every_admin_route_has_page_matrix_cases(app) -> None:  # noqa: ANN001
    routes = set(admin_routes(app))
    covered = {(case.method, case.route) for case in PAGE_CASES}
    assert len(routes) >= 40, sorted(routes)  # the enumeration itself found the admin
    assert sorted(routes - covered - set(NO_SIGN_IN)) == [], "admin routes without page-matrix cases"
    assert sorted(covered - routes) == [], "page-matrix cases for routes that do not exist"
    assert sorted(set(NO_SIGN_IN) - routes) == [], "exempted routes that do not exist"
    assert sorted(set(NO_SIGN_IN) & covered) == [], "a route is both exempted and in the matrix"
    actions = {case.variant for case in PAGE_CASES if case.route == "/admin/bookings/{booking_id}/{action}"}
    assert actions == set(BOOKING_ACTIONS)


async def test_every_admin_route_but_the_sign_in_ones_needs_a_signed_in_staff_member(app) -> None:  # noqa: ANN001
    for key, route in admin_routes(app).items():
        signs_in = current_staff in dependency_calls(route)
        assert signs_in is (key not in NO_SIGN_IN), f"{key}: current_staff {'is' if signs_in else 'is not'} asked"


def test_page_expectations_meet_both_outcomes() -> None:
    """Every signed-in persona but the super admin is allowed some pages and refused others (a 422 is a command's
    rule, not a permission: "assign to me" takes only a station's own staff)."""
    for persona in PERSONAS[1:]:
        outcomes = {(denial := case.expect(persona)) is None or denial.status == 422 for case in PAGE_CASES}
        assert outcomes == ({True} if persona.is_super_admin else {True, False}), persona.name
