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
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyotp
import pytest
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from httpx import AsyncClient, Response
from sqlalchemy import select, update

from myhibachi.app import API_PREFIX, PUBLIC_ROUTERS
from myhibachi.auth.dependencies import current_principal
from myhibachi.auth.models import StationMembership, User
from myhibachi.auth.permissions import GRANTABLE_ROLES, ROLE_PERMISSIONS, STATION_ROLES, Permission, Role
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.chefs.models import EVERY_WEEKDAY, Chef, ChefTimeOff, TimeOffStatus
from myhibachi.core.db import Database
from myhibachi.payments.models import Payment, PaymentMethod, PaymentPurpose, PaymentStatus, Refund, RefundStatus
from myhibachi.pricing.queries import get_rules
from myhibachi.stations.models import Station
from tests.conftest import PASSWORD
from tests.factories import insert_booking

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
        email = world.email(persona.name)
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

    @property
    def id(self) -> str:
        return f"{self.method} {self.route.removeprefix(API_PREFIX)}" + (f" [{self.variant}]" if self.variant else "")

    def expect(self, persona: Persona) -> Denial | None:
        if not persona.signed_in:
            return Denial(401, None)
        for check in self.checks:
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
        chef_id = await add_chef(world, own=own)
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


def read_booking(own: bool) -> Arrange:
    async def arrange(world: World) -> Call:
        chef_id = await add_chef(world, own=own)
        return Call(f"{API_PREFIX}/bookings/{await add_booking(world, chef_id=chef_id)}")

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


def list_payments(station: str | None) -> Arrange:
    """GET /payments (of every station you may read, or `station_id` = `station`), with a payment at each station:
    what comes back is exactly the payments of the stations in scope."""

    async def arrange(world: World) -> Call:
        ids = {code: await add_payment(world, code) for code in (HOME, OTHER)}

        async def verify(response: Response, applied: bool) -> None:
            if applied:
                scope = [station] if station else paying_stations(world.persona)
                assert sorted(p["id"] for p in response.json()["items"]) == sorted(ids[code] for code in scope)

        params = {"station_id": world.stations[station]} if station else None
        return Call(f"{API_PREFIX}/payments", params=params, verify=verify)

    return arrange


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
               analytics_report(route, None)) for route in ("payments", "kpis")),
        *(Case("GET", f"{api}/analytics/{route}", None, (holds(P.analytics_read, station),), 200,
               analytics_report(route, station), variant=f"station_id={station}")
          for route in ("payments", "kpis") for station in (HOME, OTHER)),
        Case("GET", f"{api}/audit-log", P.audit_read, (holds(P.audit_read),), 200, call(f"{api}/audit-log")),
        Case("GET", f"{api}/audit-log", P.audit_read, (holds(P.audit_read, HOME),), 200, variant="station_id=HOME",
             arrange=lambda w: call(f"{api}/audit-log", params={"station_id": w.stations[HOME]})(w)),
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


@pytest.mark.parametrize(("case", "persona"), [
    pytest.param(case, persona, id=f"{case.id} as {persona.name}") for case in CASES for persona in PERSONAS])
async def test_permission_matrix(case: Case, persona: Persona, client, db, make_station, make_user, login,
                                 caplog: pytest.LogCaptureFixture) -> None:
    world = await build_world(persona, client, db, make_station, make_user, login)
    request = await case.arrange(world)
    denial = case.expect(persona)
    caplog.clear()

    response = await client.request(case.method, request.path, json=request.json, params=request.params,
                                    headers=world.headers)

    expected = denial.status if denial else case.success
    assert response.status_code == expected, response.text
    if denial:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == PROBLEM_CODES[denial.status]
    events = [e for e in denial_events(caplog) if e.get("user_id") == world.user_id]
    if denial is None:
        assert events == [], "an allowed call logged a denial"
    elif denial.logged_permission is not None:
        assert [e["permission"] for e in events] == [denial.logged_permission.value]
    if request.verify is not None:  # a denied call changes nothing; an allowed one does what it says
        await request.verify(response, denial is None)


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
    covered = {(case.method, case.route) for case in CASES}
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
