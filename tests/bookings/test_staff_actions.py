"""What the domain tells the staff they may do with a booking (`queries.staff_actions`, which the admin pages render)
is what the commands then do: in every state a booking can be in, an action the query rules out is refused by its
command with the very sentence the page showed, and one it allows goes through. Who may act is the commands' own
check: a role without the permission is refused, and the manage link takes only the customer's actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from myhibachi.auth.permissions import Role
from myhibachi.auth.principal import SYSTEM, Principal
from myhibachi.bookings import commands, queries
from myhibachi.bookings.actions import CUSTOMER_ACTIONS, BookingAction
from myhibachi.bookings.commands import CUSTOMER, Actor
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.bookings.schemas import PartyChange
from myhibachi.core.db import Database, utcnow
from myhibachi.core.errors import DomainError, IllegalTransition, PermissionDenied
from myhibachi.settings import Settings
from myhibachi.stations.models import Station
from tests.bookings.conftest import EVENT_DAY, NOW
from tests.factories import insert_booking

A = BookingAction
SOON, PAST = NOW + timedelta(days=9), NOW - timedelta(hours=3)
STATES: dict[str, tuple[BookingStatus, datetime, dict[str, Any]]] = {
    "held": (BookingStatus.pending_deposit, SOON, {"hold_expires_at": NOW + timedelta(hours=20)}),
    "lapsed": (BookingStatus.pending_deposit, SOON, {"hold_expires_at": NOW - timedelta(hours=1)}),
    "confirmed": (BookingStatus.confirmed, SOON, {}),
    "confirmed_with_chef": (BookingStatus.confirmed, SOON, {"assign": True}),
    "cancellation_asked": (BookingStatus.confirmed, SOON, {"cancel_requested_at": NOW - timedelta(hours=2),
                                                          "cancel_request_reason": "The host is ill"}),
    "tomorrow": (BookingStatus.confirmed, NOW + timedelta(hours=20), {}),
    "started": (BookingStatus.confirmed, PAST, {}),
    "completed": (BookingStatus.completed, PAST, {}),
    "cancelled": (BookingStatus.cancelled, SOON, {}),
    "expired": (BookingStatus.expired, SOON, {}),
}
Command = Callable[[Any, Settings, Actor, int, list[int]], Awaitable[Any]]
COMMANDS: dict[BookingAction, Command] = {
    A.confirm: lambda s, st, a, b, chefs: commands.confirm_booking(s, st, a, b),
    A.assign_chef: lambda s, st, a, b, chefs: commands.assign_chef(s, st, a, b, chefs[1]),
    A.unassign_chef: lambda s, st, a, b, chefs: commands.unassign_chef(s, st, a, b),
    A.reschedule: lambda s, st, a, b, chefs: commands.reschedule_booking(
        s, st, a, b, event_date=EVENT_DAY + timedelta(days=12), slot_time="12:00"),
    A.change_party: lambda s, st, a, b, chefs: commands.change_party(s, st, a, b, PartyChange(addons={"gyoza": 2})),
    A.complete: lambda s, st, a, b, chefs: commands.close_booking(s, st, a, b, outcome=BookingStatus.completed),
    A.no_show: lambda s, st, a, b, chefs: commands.close_booking(s, st, a, b, outcome=BookingStatus.no_show),
    A.cancel: lambda s, st, a, b, chefs: commands.cancel_booking(s, st, a, b, reason="Called to cancel"),
    A.decline_cancellation: lambda s, st, a, b, chefs: commands.decline_cancellation(s, st, a, b),
    A.request_cancellation: lambda s, st, a, b, chefs: commands.request_cancellation(s, st, a, b,
                                                                                       reason="Called to cancel"),
}


async def _booking(db: Database, station: Station, chefs: list[int], state: str) -> int:
    """A booking in `state`; each future one on a day of its own, so any number of them fit the chefs."""
    status, start, fields = STATES[state]
    if start == SOON:
        start += timedelta(days=sorted(STATES).index(state))
    fields = dict(fields)
    chef_id = chefs[0] if fields.pop("assign", False) else None
    return await insert_booking(db, station, start, status=status, chef_id=chef_id, **fields)


async def _attempt(db: Database, settings: Settings, actor: Actor, action: BookingAction, booking_id: int,
                   chefs: list[int]) -> DomainError | None:
    """Run the action's command and undo it: the refusal, or None when it went through."""
    async with db.session() as session:
        try:
            await COMMANDS[action](session, settings, actor, booking_id, chefs)
        except DomainError as exc:
            return exc
        finally:
            await session.rollback()
    return None


@pytest.mark.parametrize("state", sorted(STATES))
async def test_each_command_does_what_the_staff_actions_say(state: str, db: Database, settings: Settings,
                                                            station: Station, add_chefs, clock) -> None:
    chefs = await add_chefs(station, 1) + [(await add_chefs(station, 1))[0]]
    booking_id = await _booking(db, station, chefs, state)
    async with db.session(write=False) as session:
        booking = await session.get_one(Booking, booking_id)
        actions = await queries.staff_actions(session, SYSTEM, booking, utcnow())
    assert set(actions) == set(BookingAction)
    disagreements = []
    for action in COMMANDS:
        terms = actions[action].terms
        refusal = await _attempt(db, settings, Actor.staff(SYSTEM), action, booking_id, chefs)
        if terms.allowed and refusal is not None and isinstance(refusal, IllegalTransition):
            disagreements.append(f"{action}: offered, but the command refused: {refusal.detail}")
        if not terms.allowed and not (isinstance(refusal, IllegalTransition) and refusal.detail in terms.message):
            disagreements.append(f"{action}: ruled out ({terms.message}), but the command answered {refusal!r}")
    assert disagreements == [], f"{state}: " + "; ".join(disagreements)


async def test_every_state_meets_both_answers(db: Database, station: Station, add_chefs, clock) -> None:
    """The states above exercise each action both ways, so the test above compares refusals and successes."""
    chefs = await add_chefs(station, 2)
    seen: dict[BookingAction, set[bool]] = {action: set() for action in COMMANDS}
    for state in STATES:
        booking_id = await _booking(db, station, chefs, state)
        async with db.session(write=False) as session:
            booking = await session.get_one(Booking, booking_id)
            for action, answer in (await queries.staff_actions(session, SYSTEM, booking, utcnow())).items():
                if action in seen:
                    seen[action].add(answer.terms.allowed)
    assert {action: answers for action, answers in seen.items() if answers != {True, False}} == {}


async def test_a_role_without_the_permission_is_refused_by_the_command_and_told_so(
        db: Database, settings: Settings, station: Station, add_chefs, make_user, clock) -> None:
    chefs = await add_chefs(station, 2)
    booking_id = await _booking(db, station, chefs, "held")
    manager = Principal(user_id=await make_user("manager@example.com", Role.manager, station), email="m@example.com",
                        name="Manager", is_super_admin=False, roles={station.id: Role.manager})
    async with db.session(write=False) as session:
        booking = await session.get_one(Booking, booking_id)
        actions = await queries.staff_actions(session, manager, booking, utcnow())
    assert actions[A.confirm].terms.allowed and not actions[A.confirm].permitted and not actions[A.confirm].offered
    assert actions[A.assign_chef].offered  # a manager runs the roster
    refused = await _attempt(db, settings, Actor.staff(manager), A.confirm, booking_id, chefs)
    assert isinstance(refused, PermissionDenied)
    async with db.session(write=False) as session:
        assert (await session.get_one(Booking, booking_id)).status == BookingStatus.pending_deposit


async def test_whoever_may_cancel_is_not_offered_the_request(db: Database, station: Station, add_chefs, make_user,
                                                             clock) -> None:
    chefs = await add_chefs(station, 2)
    booking_id = await _booking(db, station, chefs, "confirmed")
    offered = {}
    for role in (Role.admin, Role.support):
        user_id = await make_user(f"{role.value}@example.com", role, station)
        principal = Principal(user_id=user_id, email=f"{role.value}@example.com", name=role.value,
                              is_super_admin=False, roles={station.id: role})
        async with db.session(write=False) as session:
            booking = await session.get_one(Booking, booking_id)
            answer = await queries.staff_actions(session, principal, booking, utcnow())
        offered[role] = (answer[A.cancel].offered, answer[A.request_cancellation].offered)
    assert offered == {Role.admin: (True, False), Role.support: (False, True)}


@pytest.mark.parametrize("action", sorted(set(COMMANDS) - CUSTOMER_ACTIONS))
async def test_the_manage_link_takes_only_the_customers_actions(action: BookingAction, db: Database,
                                                                settings: Settings, station: Station, add_chefs,
                                                                clock) -> None:
    chefs = await add_chefs(station, 2)
    booking_id = await _booking(db, station, chefs, "cancellation_asked")
    assert isinstance(await _attempt(db, settings, CUSTOMER, action, booking_id, chefs), PermissionDenied)
    for allowed in sorted(CUSTOMER_ACTIONS):  # the customer's own go through on the same booking
        assert await _attempt(db, settings, CUSTOMER, allowed, booking_id, chefs) is None, allowed


async def test_the_api_answers_the_same_as_the_query_in_the_stations_time(client, db: Database, station: Station,
                                                                          add_chefs, make_user, login, clock) -> None:
    """`GET /bookings/{id}/actions`: what a client (a phone app) offers is what the admin pages offer."""
    chefs = await add_chefs(station, 2)
    booking_id = await _booking(db, station, chefs, "held")
    await make_user("manager@example.com", Role.manager, station)
    response = await client.get(f"/api/v1/bookings/{booking_id}/actions", headers=await login("manager@example.com"))
    assert response.status_code == 200, response.text
    answer = {item["action"]: item for item in response.json()}
    assert set(answer) == {action.value for action in BookingAction}
    confirm, assign, reschedule = answer["confirm"], answer["assign-chef"], answer["reschedule"]
    assert (confirm["allowed"], confirm["permitted"], confirm["offered"]) == (True, False, False)
    assert confirm["not_yours"] and "admin" in confirm["not_yours"]
    assert (assign["permitted"], assign["offered"]) == (True, True)
    assert reschedule["permitted"] is False and reschedule["until"].endswith("-08:00")  # Fremont's offset
    assert (await client.get(f"/api/v1/bookings/{booking_id + 999}/actions",
                             headers=await login("manager@example.com"))).status_code == 404
