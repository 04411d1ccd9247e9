"""Demo data for the embedded default: three stations, one user per role, two chefs per station working every day
(so the demo takes bookings at once), and a believable history per station (see `seed_history`). Safe to run again."""

from __future__ import annotations

import random
import time as timer
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi import tasks  # noqa: F401 - the outbox handlers the booking and payment commands write to
from myhibachi.auth.commands import create_user
from myhibachi.auth.models import User
from myhibachi.auth.permissions import Role
from myhibachi.auth.principal import SYSTEM, Principal
from myhibachi.auth.queries import roles_of
from myhibachi.auth.schemas import UserCreate
from myhibachi.bookings import notifications
from myhibachi.bookings.capacity import EventTimes, event_times, local_start
from myhibachi.bookings.commands import (
    CUSTOMER,
    Actor,
    assign_chef,
    cancel_booking,
    close_booking,
    create_booking,
    manage_token,
    release_lapsed_holds_around,
    reschedule_booking,
)
from myhibachi.bookings.ledger import booking_ledger
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.bookings.policy import menu_change_terms, total_due_cents
from myhibachi.bookings.schemas import BookingCreate, CustomerContact, Venue
from myhibachi.chefs.commands import create_chef
from myhibachi.chefs.models import Chef
from myhibachi.chefs.schemas import ChefCreate
from myhibachi.consent.commands import record_consent, suppress
from myhibachi.consent.models import ConsentAction, ConsentSource, SuppressionReason
from myhibachi.contacts.models import Contact, HandleKind
from myhibachi.core.db import Database, as_of, utcnow
from myhibachi.core.errors import DomainError
from myhibachi.core.outbox import OutboxMessage, take_pending_ids
from myhibachi.inbox import canned
from myhibachi.inbox import commands as inbox_commands
from myhibachi.inbox.canned import CannedReplyCreate
from myhibachi.inbox.commands import Inbound
from myhibachi.inbox.models import CannedReply, Channel, Conversation, DeliveryState
from myhibachi.leads import scoring
from myhibachi.leads.commands import Inquiry, add_activity, capture_lead, update_lead, win_by_booking
from myhibachi.leads.jobs import remind_follow_up
from myhibachi.leads.models import ActivityKind, Lead, LeadSource, LeadStatus
from myhibachi.leads.queries import assignable_staff
from myhibachi.leads.schemas import ActivityCreate, LeadUpdate
from myhibachi.newsletters.commands import create_campaign, create_segment, send_campaign
from myhibachi.newsletters.models import Campaign, CampaignRecipient, CampaignStatus, TrackingEvent
from myhibachi.newsletters.rendering import markdown_links
from myhibachi.newsletters.schemas import CampaignCreate, CampaignSend, SegmentCreate
from myhibachi.newsletters.segments import SegmentRules, segment_audience
from myhibachi.payments.commands import record_manual_payment, refund_payment
from myhibachi.payments.jobs import remind_deposit
from myhibachi.payments.models import Payment, PaymentPurpose, Refund
from myhibachi.payments.schemas import ManualMethod, ManualPaymentCreate, RefundCreate
from myhibachi.pricing.queries import get_rules
from myhibachi.pricing.quote import PartyOrder
from myhibachi.pricing.rules import BusinessRules
from myhibachi.settings import Settings
from myhibachi.stations.commands import ensure_station
from myhibachi.stations.models import Station
from myhibachi.stations.schemas import Address, StationCreate

log = structlog.get_logger(__name__)
T = TypeVar("T")

DEMO_PASSWORD = "hibachi-demo-pass"  # noqa: S105 - printed to the console for the demo only

DEMO_STATIONS = [
    StationCreate(code="FRE", name="Fremont CA", timezone="America/Los_Angeles", latitude=37.5483,
                  longitude=-121.9886, address=Address(line1="39055 Hastings St", city="Fremont", state="CA",
                                                       zip_code="94538")),
    StationCreate(code="SAC", name="Sacramento CA", timezone="America/Los_Angeles", latitude=38.5816,
                  longitude=-121.4944, address=Address(line1="915 I St", city="Sacramento", state="CA",
                                                       zip_code="95814")),
    StationCreate(code="AUS", name="Austin TX", timezone="America/Chicago", latitude=30.2672,
                  longitude=-97.7431, address=Address(line1="301 W 2nd St", city="Austin", state="TX",
                                                      zip_code="78701")),
]

DEMO_USERS = [  # (email, name, role, station code)
    ("superadmin@example.com", "Sam Super", Role.super_admin, None),
    ("admin@example.com", "Ada Admin", Role.admin, "FRE"),
    ("manager@example.com", "Mona Manager", Role.manager, "FRE"),
    ("support@example.com", "Sunny Support", Role.support, "FRE"),
    ("chef@example.com", "Chen Chef", Role.chef, "FRE"),
]

DEMO_CHEFS = {  # station code -> (chef name, linked demo user's email or None); each works every day
    "FRE": [("Chen Chef", "chef@example.com"), ("Kenji Sato", None)],
    "SAC": [("Hana Mori", None), ("Diego Ramos", None)],
    "AUS": [("Tomo Ito", None), ("Riley Brooks", None)],
}


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    station: str | None
    created: bool


async def seed_demo(db: Database, settings: Settings, *, history: bool = True,
                    progress: Callable[[StationHistory], None] | None = None) -> list[DemoLogin]:
    """Stations, users and chefs; then (`history`) each station's invented past, `progress` told per station."""
    logins = await _seed_people(db, settings)
    if history:
        await seed_history(db, settings, progress=progress)
    return logins


async def _seed_people(db: Database, settings: Settings) -> list[DemoLogin]:
    logins: list[DemoLogin] = []
    async with db.transaction() as session:
        stations = {data.code: (await ensure_station(session, data))[0] for data in DEMO_STATIONS}
        for email, name, role, code in DEMO_USERS:
            exists = await session.scalar(select(User.id).where(User.email == email)) is not None
            if not exists:
                await create_user(session, settings, SYSTEM, UserCreate(
                    email=email, name=name, role=role, password=DEMO_PASSWORD,
                    station_id=stations[code].id if code else None))
            logins.append(DemoLogin(email=email, role=role.value, station=code, created=not exists))
        for code, chefs in DEMO_CHEFS.items():
            station_id = stations[code].id
            for name, email in chefs:
                if await session.scalar(select(Chef.id).where(Chef.station_id == station_id, Chef.name == name)):
                    continue
                user_id = await session.scalar(select(User.id).where(User.email == email)) if email else None
                await create_chef(session, SYSTEM, station_id, ChefCreate(name=name, user_id=user_id))
        for title, body in DEMO_CANNED_REPLIES:  # for every station: each fills in its own rules
            if await session.scalar(select(CannedReply.id).where(CannedReply.title == title)) is None:
                await canned.create_canned_reply(session, SYSTEM, CannedReplyCreate(title=title, body=body))
    return logins


# --- the history: what a few months of business leave behind ----------------------------------------------------
#
# Each booking's life (book → deposit → chef → reminder → balance → completed, or a cancellation, a refund, a no-show,
# a lapsed hold) is planned as timed steps; all steps of a station run in time order, each through the real command
# as of its moment (`as_of`), so rules, audit rows and ledgers are exactly what live use would have written. Steps
# later than now have not happened yet. A seeded RNG makes the same history every run, relative to today.

HISTORY_SEED = "myhibachi-demo-history"
PAST_DAYS, AHEAD_DAYS = 90, 30
EVENT_ODDS = {1: 0.25, 2: 0.25, 3: 0.3, 4: 0.4, 5: 0.75, 6: 0.9, 7: 0.65}  # ISO weekday: ~3.5 events a week
SLOT_WEIGHTS = {"12:00": 2, "15:00": 3, "18:00": 6, "21:00": 1}  # evenings sell best
# At most one event a day per station: with two chefs, every day keeps free start times for new customers.

DEMO_VENUES = {  # station code -> (street, city, state, ZIP): real ZIP codes within the service area
    "FRE": [("Mission Blvd", "Fremont", "CA", "94538"), ("Paseo Padre Pkwy", "Fremont", "CA", "94539"),
            ("Thornton Ave", "Fremont", "CA", "94536"), ("Ardenwood Blvd", "Fremont", "CA", "94555"),
            ("Alvarado Blvd", "Union City", "CA", "94587"), ("Cedar Blvd", "Newark", "CA", "94560"),
            ("Calaveras Blvd", "Milpitas", "CA", "95035"), ("Santa Rita Rd", "Pleasanton", "CA", "94566"),
            ("Amador Valley Blvd", "Dublin", "CA", "94568"), ("Lundy Ave", "San Jose", "CA", "95131"),
            ("Castro St", "Mountain View", "CA", "94043"), ("Middlefield Rd", "Palo Alto", "CA", "94301"),
            ("Piedmont Ave", "Oakland", "CA", "94611"), ("Bollinger Canyon Rd", "San Ramon", "CA", "94583"),
            ("Valencia St", "San Francisco", "CA", "94110"), ("Mission St", "Santa Cruz", "CA", "95060")],
    "SAC": [("J St", "Sacramento", "CA", "95814"), ("Folsom Blvd", "Sacramento", "CA", "95816"),
            ("Land Park Dr", "Sacramento", "CA", "95818"), ("H St", "Sacramento", "CA", "95819"),
            ("Fair Oaks Blvd", "Sacramento", "CA", "95825"), ("Riverside Blvd", "Sacramento", "CA", "95831"),
            ("Blue Ravine Rd", "Folsom", "CA", "95630"), ("Douglas Blvd", "Roseville", "CA", "95661"),
            ("Pleasant Grove Blvd", "Roseville", "CA", "95747"), ("Covell Blvd", "Davis", "CA", "95616"),
            ("Laguna Blvd", "Elk Grove", "CA", "95758"), ("Sunrise Blvd", "Rancho Cordova", "CA", "95670"),
            ("West Capitol Ave", "West Sacramento", "CA", "95691"),
            ("Serrano Pkwy", "El Dorado Hills", "CA", "95762"), ("Lincoln Way", "Auburn", "CA", "95603")],
    "AUS": [("Congress Ave", "Austin", "TX", "78701"), ("S Lamar Blvd", "Austin", "TX", "78704"),
            ("Enfield Rd", "Austin", "TX", "78703"), ("Mesa Dr", "Austin", "TX", "78731"),
            ("Slaughter Ln", "Austin", "TX", "78745"), ("Bee Caves Rd", "West Lake Hills", "TX", "78746"),
            ("Anderson Mill Rd", "Austin", "TX", "78750"), ("Cypress Creek Rd", "Cedar Park", "TX", "78613"),
            ("Sam Bass Rd", "Round Rock", "TX", "78664"), ("Pecan St", "Pflugerville", "TX", "78660"),
            ("Williams Dr", "Georgetown", "TX", "78626"), ("Lohmans Crossing", "Lakeway", "TX", "78738"),
            ("Crystal Falls Pkwy", "Leander", "TX", "78641"), ("Hopkins St", "San Marcos", "TX", "78666"),
            ("Center St", "Kyle", "TX", "78640")],
}
AREA_CODES = {"FRE": "510", "SAC": "916", "AUS": "512"}
FIRST_NAMES = ["Maria", "James", "Priya", "Wei", "Carlos", "Aisha", "Tom", "Yuki", "Olivia", "Ethan", "Fatima",
               "Lucas", "Grace", "Noah", "Sofia", "Daniel", "Mei", "Jordan", "Elena", "Marcus", "Hannah", "Raj",
               "Chloe", "Andre", "Lily", "Kevin", "Zara", "Brian", "Nina", "Omar"]
LAST_NAMES = ["Garcia", "Nguyen", "Patel", "Chen", "Johnson", "Kim", "Martinez", "Okafor", "Tanaka", "Smith",
              "Lopez", "Brown", "Singh", "Rossi", "Wilson", "Park", "Hernandez", "Cohen", "Ali", "Murphy",
              "Santos", "Wong", "Davis", "Reyes", "Kowalski"]
ALLERGIES = {"none": 16, "Shellfish (one guest)": 2, "Peanuts": 1, "Gluten-free for 2 guests": 1, "Sesame": 1,
             "One guest is vegetarian": 1}
NOTES = [None, None, None, None, "Birthday party", "Graduation party", "Backyard, gate on the left side",
         "Anniversary dinner", "Office party: invoice to the company", "Extra yum yum sauce, please",
         "Parking in the driveway is fine"]
DEPOSIT_METHODS = {ManualMethod.zelle: 5, ManualMethod.venmo: 3, ManualMethod.check: 1, ManualMethod.cash: 1}
BALANCE_METHODS = {ManualMethod.cash: 4, ManualMethod.zelle: 3, ManualMethod.venmo: 2, ManualMethod.check: 1}
EARLY_CANCEL_REASONS = ["Family emergency", "Moved the party to a restaurant", "Plans changed",
                        "The guest of honour is unwell"]
LATE_CANCEL_REASONS = ["Rain forecast, no covered space", "Too many guests dropped out", "Venue fell through"]


class Outcome(StrEnum):
    completed = "completed"
    partly_refunded = "partly_refunded"  # completed, then part of the balance given back
    no_show = "no_show"
    cancelled_early = "cancelled_early"  # inside the refund window: the deposit goes back
    cancelled_late = "cancelled_late"  # after it: the deposit is kept
    expired = "expired"  # never paid; the hold lapsed
    pending = "pending"  # booked in the last day; the deposit is not in yet
    confirmed = "confirmed"  # upcoming, a chef assigned
    unassigned = "unassigned"  # upcoming, no chef yet


STAFFED = {Outcome.completed, Outcome.partly_refunded, Outcome.no_show, Outcome.confirmed}
HELD_TO_THE_END = {Outcome.completed, Outcome.partly_refunded, Outcome.confirmed, Outcome.unassigned}


@dataclass
class BookingPlan:
    outcome: Outcome
    request: BookingCreate  # as first booked (a moved booking names its first date here)
    times: EventTimes  # where the event finally takes place
    moved_to: tuple[date, str] | None = None  # (date, slot) of a reschedule
    booking_id: int | None = None
    payment_ids: dict[PaymentPurpose, int] = field(default_factory=dict)
    broken: bool = False  # a step failed: its later steps are skipped


@dataclass(frozen=True)
class Step:
    at: datetime
    plan: BookingPlan
    run: Callable[[HistoryWriter], Awaitable[None]]


@dataclass(frozen=True)
class StationHistory:
    """What the seed left at one station, for the console."""

    code: str
    left_alone: str | None = None  # why it got no history, e.g. "has bookings already"
    by_status: dict[str, int] = field(default_factory=dict)
    payments: int = 0
    refunds: int = 0
    leads: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def made(self) -> bool:
        return self.left_alone is None

    def summary(self) -> str:
        if self.left_alone is not None:
            return f"{self.code}: {self.left_alone}, history left as it is"
        statuses = ", ".join(f"{count} {status.replace('_', ' ')}" for status, count in sorted(self.by_status.items()))
        leads = ", ".join(f"{count} {status}" for status, count in sorted(self.leads.items()))
        return (f"{self.code}: {sum(self.by_status.values())} bookings ({statuses}), {self.payments} payments, "
                f"{self.refunds} refunds, {sum(self.leads.values())} leads ({leads}) in {self.seconds:.1f} s")


async def seed_history(db: Database, settings: Settings, *, codes: Collection[str] | None = None,
                       progress: Callable[[StationHistory], None] | None = None) -> list[StationHistory]:
    """Each demo station (of `codes`, default all) without bookings gets ~90 days of past and ~30 days of upcoming
    events, in one transaction per station. Their emails are marked sent in that transaction: they belong to the
    past."""
    results = []
    for data in DEMO_STATIONS:
        if codes is not None and data.code not in codes:
            continue
        async with db.transaction() as session:
            result = await _history_of(session, settings, data.code)
        results.append(result)
        if progress is not None:
            progress(result)
    if any(result.made for result in results):
        async with db.transaction() as session:
            await _score_leads(session)
    return results


async def _history_of(session: AsyncSession, settings: Settings, code: str) -> StationHistory:
    started = timer.perf_counter()
    station = await session.scalar(select(Station).where(Station.code == code))
    if station is None:
        return StationHistory(code, "is missing")
    if why_not := await _write_history(session, settings, station):
        return StationHistory(code, why_not)
    return await _tally(session, station, timer.perf_counter() - started)


async def _write_history(session: AsyncSession, settings: Settings, station: Station) -> str | None:
    """The station's history, or why it gets none: real bookings are never mixed with invented ones."""
    if await session.scalar(select(Booking.id).where(Booking.station_id == station.id).limit(1)) is not None:
        return "has bookings already"
    chef_ids = list(await session.scalars(select(Chef.id).where(Chef.station_id == station.id, Chef.is_active)
                                          .order_by(Chef.id)))
    if not chef_ids:
        return "has no active chef"
    now = utcnow()
    rules = await get_rules(session, station.id)
    rng = random.Random(f"{HISTORY_SEED}:{station.code}")  # noqa: S311 - invented data, the same every run
    planner = HistoryPlanner(rng, station, rules, chef_ids, now)
    office = await _office(session, station)
    writer = HistoryWriter(session, settings, station, office)
    await writer.play(planner.steps(), now)
    await _write_lead_history(session, settings, station, office, rules, now)
    await _write_newsletter_history(session, station, office, now)
    await _write_conversations(session, station, office, now)
    await _mark_sent(session)
    return None


async def _office(session: AsyncSession, station: Station) -> Principal:
    """Who records payments and refunds at the station in the story: its demo admin, else the demo super admin."""
    email = next((email for email, _, role, code in DEMO_USERS if role is Role.admin and code == station.code),
                 next(email for email, _, role, _ in DEMO_USERS if role is Role.super_admin))
    user = await session.scalar(select(User).where(User.email == email, User.is_active))
    if user is None:
        return SYSTEM
    return Principal(user_id=user.id, email=user.email, name=user.name, is_super_admin=user.is_super_admin,
                     roles=await roles_of(session, user.id))


async def _mark_sent(session: AsyncSession) -> None:
    """The history's emails (receipts, confirmations, reminders…) and its cancellation events belong to the past:
    marked processed as of when they were written, so no worker sends hundreds of stale emails on start. The
    cancellation refunds they would have asked staff for are recorded in the history itself."""
    ids = sorted(set(take_pending_ids(session)))
    for first in range(0, len(ids), 500):  # SQLite's limit on bound parameters
        await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids[first:first + 500]),
                                                          OutboxMessage.processed_at.is_(None))
                              .values(processed_at=OutboxMessage.created_at)
                              .execution_options(synchronize_session=False))


async def _tally(session: AsyncSession, station: Station, seconds: float) -> StationHistory:
    rows = await session.execute(select(Booking.status, func.count()).where(Booking.station_id == station.id)
                                 .group_by(Booking.status))
    by_status = {status: count for status, count in rows.all()}
    leads = dict((await session.execute(select(Lead.status, func.count()).where(Lead.station_id == station.id)
                                        .group_by(Lead.status))).all())
    payments = await session.scalar(select(func.count()).select_from(Payment).where(Payment.station_id == station.id))
    refunds = await session.scalar(select(func.count()).select_from(Refund).where(Refund.station_id == station.id))
    return StationHistory(code=station.code, by_status=by_status, payments=payments or 0, refunds=refunds or 0,
                          leads=leads, seconds=seconds)


# --- planning: pure, from a seeded RNG ---------------------------------------------------------------------------


def _weighted(rng: random.Random, weights: dict[T, int]) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _between(rng: random.Random, low: datetime, high: datetime) -> datetime:
    """A random instant in [low, high] (low itself when the range is empty)."""
    return low + max(high - low, timedelta(0)) * rng.random()


class HistoryPlanner:
    """Decides which days have events, what each booking's life is, and when each of its steps happens."""

    def __init__(self, rng: random.Random, station: Station, rules: BusinessRules, chef_ids: list[int],
                 now: datetime) -> None:
        self.rng, self.station, self.rules, self.chef_ids, self.now = rng, station, rules, chef_ids, now
        self.zone = ZoneInfo(station.timezone)
        self.today = now.astimezone(self.zone).date()
        self.latest = now - timedelta(minutes=1)  # a step that must have happened is no later than this
        self.customers: list[CustomerContact] = []

    def steps(self) -> list[Step]:
        days = [self.today + timedelta(days=offset) for offset in range(-PAST_DAYS, AHEAD_DAYS + 1)]
        event_days = [day for day in days if self.rng.random() < EVENT_ODDS[day.isoweekday()]]
        outcomes = self._deal_outcomes(event_days)
        free_days = set(days) - set(event_days)
        steps: list[Step] = []
        for day in event_days:
            steps += self._booking_steps(day, outcomes[day], free_days)
        return sorted(steps, key=lambda step: step.at)

    def _deal_outcomes(self, event_days: list[date]) -> dict[date, Outcome]:
        """Every state at least a couple of times, the rest the ordinary course of business."""
        past = [day for day in event_days if day < self.today]
        ahead = [day for day in event_days if day >= self.today]
        settled = self.today - timedelta(days=2)  # its closing steps are surely done by now
        refunded = self.today - timedelta(days=6)  # and a refund days after the party too
        n = len(past)
        quotas = [
            (Outcome.no_show, max(2, n // 25), past, lambda day: day <= settled),
            (Outcome.cancelled_early, max(2, n // 15), past, lambda day: day <= settled),
            (Outcome.cancelled_late, max(1, n // 30), past, lambda day: day <= settled),
            (Outcome.partly_refunded, max(1, n // 25), past, lambda day: day <= refunded),
            (Outcome.expired, max(2, n // 20), past, lambda day: True),
            (Outcome.pending, 2, ahead, lambda day: day >= self.today + timedelta(days=3)),
            (Outcome.cancelled_early, 1, ahead, lambda day: day >= self.today + timedelta(days=6)),
            (Outcome.expired, 1, ahead, lambda day: True),
            (Outcome.unassigned, 1, ahead, lambda day: self.today < day <= self.today + timedelta(days=6)),
        ]
        dealt: dict[date, Outcome] = {}
        for outcome, count, days, eligible in quotas:
            candidates = [day for day in days if day not in dealt and eligible(day)]
            for day in self.rng.sample(candidates, min(count, len(candidates))):
                dealt[day] = outcome
        for day in past:
            dealt.setdefault(day, Outcome.completed)
        for day in ahead:  # chefs are assigned in the last week or two; further out, often not yet
            far = day > self.today + timedelta(days=10)
            dealt.setdefault(day, Outcome.unassigned if far and self.rng.random() < 0.5 else Outcome.confirmed)
        return dealt

    def _start(self, day: date, slot: str, guests: int) -> EventTimes:
        start = local_start(self.zone, day, datetime.strptime(slot, "%H:%M").time())
        assert start is not None  # the demo's slots are never inside a DST gap
        return event_times(self.rules, start, guests)

    def _booking_steps(self, day: date, outcome: Outcome, free_days: set[date]) -> list[Step]:
        rng = self.rng
        slot = _weighted(rng, SLOT_WEIGHTS)
        request = self._request(day, slot)
        guests = request.adults + request.children + request.toddlers
        times = self._start(day, slot, guests)
        plan = BookingPlan(outcome, request, times)
        first = times
        if outcome in HELD_TO_THE_END and rng.random() < 0.08:  # now and then a party moves its date
            moved = self._first_date(day, slot, guests, free_days)
            if moved is not None:
                plan.request = request.model_copy(update={"event_date": moved})
                plan.moved_to = (day, slot)
                first = self._start(moved, slot, guests)
        created = self._created(outcome, min(first.start, times.start), moved=plan.moved_to is not None)
        steps = [Step(created, plan, lambda w: w.create(plan))]
        hold_lapses = created + timedelta(hours=self.rules.hold_hours)
        remind = Step(hold_lapses - timedelta(hours=self.rules.deposit_reminder_hours_before), plan,
                      lambda w: w.remind_deposit(plan))
        if outcome is Outcome.pending:
            return steps + [remind] + self._protein_ask(plan, times, created)
        if outcome is Outcome.expired:
            return steps + [remind, Step(hold_lapses + timedelta(minutes=rng.randint(1, 15)), plan,
                                         lambda w: w.expire(plan))]
        deposit = _between(rng, created + timedelta(minutes=10), min(created + timedelta(hours=20), self.latest))
        if remind.at < deposit:
            steps.append(remind)
        steps.append(self._payment(deposit, plan, PaymentPurpose.deposit, _weighted(rng, DEPOSIT_METHODS)))
        if plan.moved_to is not None:
            latest_move = min(first.start, times.start) - timedelta(hours=self.rules.min_notice_hours + 1)
            steps.append(Step(_between(rng, deposit + timedelta(hours=1), min(latest_move, self.latest)), plan,
                              lambda w: w.reschedule(plan)))
        if outcome in STAFFED:
            chef_id = rng.choice(self.chef_ids)
            assigned = _between(rng, deposit + timedelta(minutes=30), min(times.start - timedelta(days=1),
                                                                           self.latest))
            steps.append(Step(assigned, plan, lambda w: w.assign(plan, chef_id)))
        if outcome in (Outcome.cancelled_early, Outcome.cancelled_late):
            return steps + self._cancellation(plan, deposit)
        if times.start > self.now:  # a past event's reminder would leave nothing anyone looks at: spared for speed
            reminder = max(times.start - timedelta(hours=self.rules.reminder_hours_before),
                           deposit + timedelta(minutes=5))
            steps.append(Step(reminder, plan, lambda w: w.remind(plan)))
            steps += self._protein_ask(plan, times, deposit)
        if outcome is Outcome.no_show:
            marked = times.start + timedelta(minutes=rng.randint(60, 180))
            return steps + [Step(marked, plan, lambda w: w.close(plan, BookingStatus.no_show))]
        return steps + self._event_and_after(plan, deposit)

    def _protein_ask(self, plan: BookingPlan, times: EventTimes, after: datetime) -> list[Step]:
        """A party that has not chosen its proteins is asked once, as the job does before the menu window closes."""
        if plan.request.proteins or times.start <= self.now:
            return []
        ask = max(times.start - timedelta(hours=self.rules.menu_change_min_hours + self.rules.reminder_hours_before),
                  after + timedelta(minutes=5))
        return [Step(ask, plan, lambda w: w.ask_for_proteins(plan))]

    def _created(self, outcome: Outcome, first_start: datetime, *, moved: bool) -> datetime:
        """When the customer booked: 2–40 days ahead (usually one to three weeks), and early enough for the steps
        the story needs before its event (or before now) to fit: a pending booking in the last day, an expired one
        more than a hold ago, a cancellation inside the refund window days before it, a move before the notice."""
        rng = self.rng
        if outcome is Outcome.pending:
            return _between(rng, self.now - timedelta(hours=20), self.now - timedelta(minutes=10))
        notice = timedelta(hours=self.rules.min_notice_hours + 2)
        min_lead = {Outcome.cancelled_early: timedelta(days=8), Outcome.cancelled_late: timedelta(days=5)}.get(
            outcome, notice)
        behind = {Outcome.expired: timedelta(hours=self.rules.hold_hours + 2),
                  Outcome.cancelled_early: timedelta(days=3)}.get(outcome, timedelta(hours=3))
        if moved:
            min_lead, behind = max(min_lead, notice + timedelta(days=4)), max(behind, timedelta(days=2))
        lead = max(timedelta(days=rng.triangular(2, 40, 10)), min_lead)
        return min(first_start - lead, self.now - behind)

    def _first_date(self, day: date, slot: str, guests: int, free_days: set[date]) -> date | None:
        """A free day near `day` that the party first booked, if the timing allows moving from it."""
        candidates = sorted(free_days & {day + timedelta(days=k) for k in range(-10, 11) if k})
        if not candidates:
            return None
        moved = self.rng.choice(candidates)
        if min(self._start(moved, slot, guests).start, self._start(day, slot, guests).start) < (
                self.now + timedelta(days=4)) and day >= self.today:
            return None  # too close to now for the whole booking-then-moving story to be behind us
        free_days.discard(moved)
        return moved

    def _payment(self, at: datetime, plan: BookingPlan, purpose: PaymentPurpose, method: ManualMethod) -> Step:
        reference = {ManualMethod.zelle: "ZL-{}", ManualMethod.venmo: "VM-{}", ManualMethod.check: "Check #{}",
                     ManualMethod.cash: "Cash receipt {}"}[method].format(self.rng.randint(1000, 99999))
        return Step(at, plan, lambda w: w.pay(plan, purpose, method, reference))

    def _cancellation(self, plan: BookingPlan, deposit: datetime) -> list[Step]:
        rng, start = self.rng, plan.times.start
        if plan.outcome is Outcome.cancelled_late:
            refund_closed = start - timedelta(hours=self.rules.deposit_refund_min_hours)
            at = _between(rng, max(deposit + timedelta(hours=1), refund_closed + timedelta(hours=2)),
                          start - timedelta(days=1))
            reason = rng.choice(LATE_CANCEL_REASONS)
            return [Step(at, plan, lambda w: w.cancel(plan, reason))]
        at = _between(rng, deposit + timedelta(days=1),
                      min(start - timedelta(days=5), self.latest - timedelta(hours=3)))
        reason = rng.choice(EARLY_CANCEL_REASONS)
        refunded = _between(rng, at + timedelta(hours=2), min(at + timedelta(days=2), self.latest))
        return [Step(at, plan, lambda w: w.cancel(plan, reason)),
                Step(refunded, plan, lambda w: w.refund_cancellation(plan))]

    def _event_and_after(self, plan: BookingPlan, deposit: datetime) -> list[Step]:
        """The balance (now and then sent ahead by transfer, usually paid at the party), the booking closed the
        next morning, and for a few a goodwill refund of part of the balance."""
        rng, times = self.rng, plan.times
        ahead = times.start - timedelta(days=rng.uniform(1, 5))
        if rng.random() < 0.15 and ahead > deposit + timedelta(hours=1):
            balance = self._payment(ahead, plan, PaymentPurpose.balance, rng.choice([ManualMethod.zelle,
                                                                                    ManualMethod.venmo]))
        else:
            balance = self._payment(_between(rng, times.start + timedelta(minutes=30), times.end), plan,
                                    PaymentPurpose.balance, _weighted(rng, BALANCE_METHODS))
        closed = times.end + timedelta(minutes=rng.randint(60, 18 * 60))
        steps = [balance, Step(closed, plan, lambda w: w.close(plan, BookingStatus.completed))]
        if plan.outcome is Outcome.partly_refunded:
            cents, reason = rng.choice([(2 * self.rules.adult_price_cents, "Two guests fewer than booked"),
                                        (self.rules.adult_price_cents, "One guest fewer than booked"),
                                        (5000, "The chef arrived late: goodwill refund")])
            at = closed + timedelta(hours=rng.randint(20, 96))
            steps.append(Step(at, plan, lambda w: w.refund_part(plan, cents, reason)))
        return steps

    def _request(self, day: date, slot: str) -> BookingCreate:
        rng, rules = self.rng, self.rules
        guests = round(rng.triangular(6, 40, 14))
        toddlers = rng.choice([0, 0, 0, 1, 1, 2])
        children = min(round(guests * rng.uniform(0, 0.35)), rules.children_max, guests - toddlers - 1)
        adults = guests - children - toddlers
        upgrades = {rng.choice(sorted(rules.protein_upgrades)): rng.randint(1, max(1, adults // 3))} \
            if rules.protein_upgrades and rng.random() < 0.5 else {}
        addons = {code: rng.randint(1, 3) for code in rng.sample(sorted(rules.addons), min(2, len(rules.addons)))
                  if rng.random() < 0.4}
        street, city, state, zip_code = rng.choice(DEMO_VENUES[self.station.code])
        return BookingCreate(
            station_id=self.station.id, adults=adults, children=children, toddlers=toddlers, upgrades=upgrades,
            addons=addons, proteins=self._proteins(day, slot, adults, children, toddlers), event_date=day,
            slot_time=slot,
            venue=Venue(line1=f"{rng.randint(100, 48999)} {street}", city=city, state=state, zip_code=zip_code),
            customer=self._customer(), allergies=_weighted(rng, ALLERGIES), notes=rng.choice(NOTES))

    def _proteins(self, day: date, slot: str, adults: int, children: int, toddlers: int) -> dict[str, int]:
        """Most parties have chosen their proteins (two or three of the base ones); the rest will be asked. From a
        generator of their own, so the rest of the history is the same as without them."""
        rng = random.Random(f"{self.station.code}:{day}:{slot}")  # noqa: S311 - invented data
        if rng.random() < 0.25 or not self.rules.base_proteins:
            return {}
        servings = PartyOrder(adults, children, toddlers).protein_servings
        codes = rng.sample(self.rules.base_proteins, min(rng.randint(2, 3), len(self.rules.base_proteins)))
        cuts = sorted(rng.randint(0, servings) for _ in codes[1:])
        shares = [b - a for a, b in zip([0, *cuts], [*cuts, servings], strict=True)]
        return {code: share for code, share in zip(codes, shares, strict=True) if share}

    def _customer(self) -> CustomerContact:
        """A new customer, or now and then one who booked before."""
        if self.customers and self.rng.random() < 0.15:
            return self.rng.choice(self.customers)
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        area = AREA_CODES.get(self.station.code, "510")
        customer = CustomerContact(name=f"{first} {last}", email=f"{first}.{last}@example.com".lower(),
                                   phone=f"({area}) 555-01{self.rng.randint(0, 99):02d}")
        self.customers.append(customer)
        return customer


# --- writing: each step through the command a person (or the system) would have used -----------------------------


class HistoryWriter:
    """Plays a station's steps in time order, each as of its moment, in a savepoint: a step the rules refuse
    (which a consistent plan never meets) drops the rest of that booking's story, not the seed."""

    def __init__(self, session: AsyncSession, settings: Settings, station: Station, office: Principal) -> None:
        self.session, self.settings, self.station, self.office = session, settings, station, office
        self.staff = Actor.staff(office)

    async def play(self, steps: list[Step], now: datetime) -> None:
        for step in steps:
            if step.at > now:
                break  # the future has not happened yet
            if step.plan.broken:
                continue
            try:
                async with self.session.begin_nested():
                    with as_of(step.at):
                        await step.run(self)
            except DomainError as exc:
                step.plan.broken = True
                log.warning("demo_history_step_refused", station=self.station.code, at=step.at.isoformat(),
                            outcome=step.plan.outcome.value, detail=exc.detail)

    async def create(self, plan: BookingPlan) -> None:
        plan.booking_id = (await create_booking(self.session, self.settings, plan.request, actor=CUSTOMER)).booking.id

    async def pay(self, plan: BookingPlan, purpose: PaymentPurpose, method: ManualMethod, reference: str) -> None:
        booking = await self._booking(plan)
        if purpose is PaymentPurpose.deposit:
            amount = booking.quote["deposit_cents"]
        else:
            amount = total_due_cents(booking) - (await booking_ledger(self.session, booking.id)).net_paid_cents
        if amount <= 0:
            return
        recorded = await record_manual_payment(self.session, self.settings, self.office, booking.id,
                                               ManualPaymentCreate(method=method, amount_cents=amount,
                                                                   reference=reference, purpose=purpose))
        plan.payment_ids[purpose] = recorded.payment.id

    async def assign(self, plan: BookingPlan, chef_id: int) -> None:
        await assign_chef(self.session, self.settings, self.staff, self._id(plan), chef_id)

    async def reschedule(self, plan: BookingPlan) -> None:
        assert plan.moved_to is not None
        day, slot = plan.moved_to
        await reschedule_booking(self.session, self.settings, CUSTOMER, self._id(plan), event_date=day,
                                 slot_time=slot)

    async def remind(self, plan: BookingPlan) -> None:
        """What the reminder job does for a confirmed event entering its reminder window."""
        booking = await self._booking(plan)
        if booking.status != BookingStatus.confirmed.value or booking.reminder_sent_at is not None:
            return
        booking.reminder_sent_at = utcnow()
        await notifications.event_reminder(self.session, self.settings, self.station, booking,
                                           manage_token(self.settings, booking))

    async def remind_deposit(self, plan: BookingPlan) -> None:
        """What the deposit reminder task does for a hold about to lapse unpaid."""
        await remind_deposit(self.session, self.settings, self._id(plan))

    async def ask_for_proteins(self, plan: BookingPlan) -> None:
        """What the protein-asking job does for an open booking without them before its menu window closes."""
        booking = await self._booking(plan)
        terms = menu_change_terms(await get_rules(self.session, self.station.id), booking, utcnow())
        if booking.proteins or booking.proteins_reminder_sent_at is not None or not terms.allowed:
            return
        assert terms.until is not None
        booking.proteins_reminder_sent_at = utcnow()
        await notifications.proteins_requested(self.session, self.settings, self.station, booking,
                                               manage_token(self.settings, booking), until=terms.until)

    async def close(self, plan: BookingPlan, outcome: BookingStatus) -> None:
        await close_booking(self.session, self.settings, self.staff, self._id(plan), outcome=outcome)

    async def cancel(self, plan: BookingPlan, reason: str) -> None:
        await cancel_booking(self.session, self.settings, CUSTOMER, self._id(plan), reason=reason)

    async def refund_cancellation(self, plan: BookingPlan) -> None:
        """Staff pay back by hand what the cancellation policy owes (the deposit, inside the refund window)."""
        owed = (await self._booking(plan)).refund_owed_cents or 0
        if owed > 0:
            await self._refund(plan, PaymentPurpose.deposit, owed, "Cancellation refund under the booking policy")

    async def refund_part(self, plan: BookingPlan, cents: int, reason: str) -> None:
        await self._refund(plan, PaymentPurpose.balance, cents, reason)

    async def expire(self, plan: BookingPlan) -> None:
        """What the hold-expiry job does once the hold has lapsed."""
        await release_lapsed_holds_around(self.session, self.settings, self._id(plan))

    async def _refund(self, plan: BookingPlan, purpose: PaymentPurpose, cents: int, reason: str) -> None:
        payment_id = plan.payment_ids.get(purpose)
        if payment_id is None:
            return
        paid = await self.session.get_one(Payment, payment_id)
        await refund_payment(self.session, self.settings, None, self.office, payment_id,
                             RefundCreate(amount_cents=min(cents, paid.amount_cents), reason=reason))

    async def _booking(self, plan: BookingPlan) -> Booking:
        return await self.session.get_one(Booking, self._id(plan))

    @staticmethod
    def _id(plan: BookingPlan) -> int:
        assert plan.booking_id is not None
        return plan.booking_id


# --- the leads: six months of inquiries, won by the history's bookings or lost, and today's open pipeline ---------
#
# Written after the bookings, through the leads commands as of each moment (in time order, like the bookings):
# most paid bookings began as a lead (its contact is the booking's, won when the deposit came in, linked to it);
# other inquiries were lost for one of the station's reasons; today's pipeline has leads in every open status, some
# assigned, some with a follow-up ahead and some overdue (their reminder went out when it fell due, as the job
# does). From a generator of their own, so the bookings' history is the same with or without them.

LEAD_DAYS = 180
LEAD_SOURCES = {LeadSource.contact_form: 6, LeadSource.abandoned_booking: 3, LeadSource.chat: 3,
                LeadSource.slot_unavailable: 1, LeadSource.inbox: 2, LeadSource.staff: 2}
LOST_WEIGHTS = {"no_response": 6, "price": 4, "chose_another_caterer": 3, "date_unavailable": 2,
                "plans_changed": 2, "other": 1}
LEAD_MESSAGES = [None, "Birthday dinner in the back yard", "Do you bring the grill and the plates?",
                 "Company team party, can you invoice us?", "Graduation party, some vegetarians",
                 "How much for 20 adults and 6 kids?", "Is the deposit refundable?", "Anniversary surprise"]
STAFF_NOTES = [(ActivityKind.call, "Called; they are comparing two caterers."),
               (ActivityKind.email, "Sent the menu and the price for their party."),
               (ActivityKind.sms, "Texted the deposit link and the free dates."),
               (ActivityKind.call, "Left a voicemail."), (ActivityKind.note, "Wants a covered spot in case of rain.")]
OPEN_PIPELINE = [LeadStatus.new] * 4 + [LeadStatus.contacted] * 4 + [LeadStatus.qualified] * 3 + \
    [LeadStatus.quoted] * 3
LEAD_PATH = [LeadStatus.contacted, LeadStatus.qualified, LeadStatus.quoted]


@dataclass(frozen=True)
class LeadStep:
    at: datetime
    key: int  # the lead it belongs to
    run: Callable[[], Awaitable[None]]
    opens: bool = False  # the inquiry that makes the lead: every other step of it needs it done


class LeadHistory:
    """Plans and writes one station's lead history (see above)."""

    def __init__(self, session: AsyncSession, settings: Settings, station: Station, office: Principal,
                 rules: BusinessRules, now: datetime) -> None:
        self.session, self.settings, self.station, self.office, self.now = session, settings, station, office, now
        self.rules = rules
        self.rng = random.Random(f"{HISTORY_SEED}:leads:{station.code}")  # noqa: S311 - invented data
        self.zone = ZoneInfo(station.timezone)
        self.lead_ids: dict[int, int] = {}  # plan key -> lead id
        self.steps: list[LeadStep] = []
        self.staff: list[int] = []
        self.worked_open = 0  # open leads worked so far: the first two show an overdue and a coming follow-up

    async def write(self) -> None:
        self.staff = [user_id for user_id, _ in await assignable_staff(self.session, self.station.id)]
        bookings = list(await self.session.scalars(select(Booking).where(
            Booking.station_id == self.station.id, Booking.confirmed_at.is_not(None)).order_by(Booking.id)))
        for booking in bookings:
            if self.rng.random() < 0.65:  # the rest booked straight away, no inquiry first
                self._won(booking)
        for _ in range(round(len(bookings) * 0.9)):
            self._lost()
        for status in OPEN_PIPELINE:
            self._open(status)
        broken: set[int] = set()
        for step in sorted(self.steps, key=lambda step: (step.at, step.key)):
            if step.at > self.now:
                break  # the future has not happened yet
            if step.key in broken or not (step.opens or step.key in self.lead_ids):
                continue
            try:
                async with self.session.begin_nested():
                    with as_of(step.at):
                        await step.run()
            except DomainError as exc:  # a returning customer's inquiry joined their open lead, say: its story ends
                broken.add(step.key)
                log.info("demo_lead_step_refused", station=self.station.code, detail=exc.detail)

    # planning

    def _inquiry(self, key: int, at: datetime, *, name: str, email: str | None, phone: str | None,
                 event_date: date | None, guests: int | None, zip_code: str | None) -> None:
        source = _weighted(self.rng, LEAD_SOURCES)
        inquiry = Inquiry(station_id=self.station.id, source=source, name=name, email=email, phone=phone,
                          event_date=event_date, guests=guests, zip_code=zip_code,
                          message=self.rng.choice(LEAD_MESSAGES))
        actor = self.office.user_id if source is LeadSource.staff else None

        async def run() -> None:
            self.lead_ids[key] = (await capture_lead(self.session, inquiry, actor_user_id=actor)).id

        self.steps.append(LeadStep(at, key, run, opens=True))

    def _update(self, key: int, at: datetime, **fields: object) -> None:
        async def run() -> None:
            await update_lead(self.session, self.office, self.lead_ids[key], LeadUpdate.model_validate(fields))

        self.steps.append(LeadStep(at, key, run))

    def _note(self, key: int, at: datetime) -> None:
        kind, body = self.rng.choice(STAFF_NOTES)

        async def run() -> None:
            await add_activity(self.session, self.office, self.lead_ids[key],
                               ActivityCreate(kind=kind.value, body=body))

        self.steps.append(LeadStep(at, key, run))

    def _work(self, key: int, start: datetime, end: datetime, furthest: int) -> datetime:
        """Staff take the lead along the pipeline (`furthest` moves), assign it and log a call or two between
        `start` and `end`; answers when the last of it happened."""
        moments = sorted(_between(self.rng, start, end) for _ in range(furthest + 2))
        if self.staff:
            self._update(key, moments[0], assignee_id=self.rng.choice(self.staff))
        for status, at in zip(LEAD_PATH[:furthest], moments[1:], strict=False):
            self._update(key, at, status=status.value)
        self._note(key, moments[-1])
        return moments[-1]

    def _won(self, booking: Booking) -> None:
        key = len(self.steps) + 1
        assert booking.confirmed_at is not None
        asked = booking.created_at - timedelta(hours=self.rng.uniform(2, 24 * 10))
        guests = booking.adults + booking.children + booking.toddlers
        self._inquiry(key, asked, name=booking.contact_name, email=booking.contact_email,
                      phone=booking.contact_phone, event_date=booking.event_date, guests=guests,
                      zip_code=booking.venue_zip)
        self._work(key, asked + timedelta(minutes=20), booking.created_at, self.rng.randint(1, 3))
        booking_id = booking.id

        async def win() -> None:  # what the deposit's outbox message does (leads.jobs.win_the_lead)
            await win_by_booking(self.session, booking_id)

        self.steps.append(LeadStep(booking.confirmed_at, key, win))

    def _person(self) -> tuple[str, str, str]:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        serial = len(self.steps)
        area = AREA_CODES.get(self.station.code, "510")
        return (f"{first} {last}", f"{first}.{last}.{serial}@example.org".lower(),
                f"+1{area}555{self.rng.randint(200, 9999):04d}")

    def _wanted(self, asked: datetime) -> tuple[date, int, str]:
        day = asked.astimezone(self.zone).date() + timedelta(days=round(self.rng.triangular(5, 70, 20)))
        return day, round(self.rng.triangular(6, 45, 14)), self.rng.choice(DEMO_VENUES[self.station.code])[3]

    def _lost(self) -> None:
        key = len(self.steps) + 1
        asked = self.now - timedelta(days=self.rng.uniform(4, LEAD_DAYS))
        name, email, phone = self._person()
        day, guests, zip_code = self._wanted(asked)
        self._inquiry(key, asked, name=name, email=email if self.rng.random() < 0.9 else None, phone=phone,
                      event_date=day if self.rng.random() < 0.8 else None, guests=guests, zip_code=zip_code)
        last = self._work(key, asked + timedelta(minutes=30),
                          min(asked + timedelta(days=self.rng.uniform(1, 12)), self.now - timedelta(days=1)),
                          self.rng.randint(0, 3))
        reasons = {code: weight for code, weight in LOST_WEIGHTS.items() if code in self.rules.lead_lost_reasons}
        reason = _weighted(self.rng, reasons) if reasons else self.rng.choice(self.rules.lead_lost_reasons)
        self._update(key, _between(self.rng, last + timedelta(hours=1),
                                   min(last + timedelta(days=10), self.now - timedelta(hours=1))),
                     status=LeadStatus.lost.value, lost_reason=reason)

    def _open(self, status: LeadStatus) -> None:
        """Today's pipeline: newer the less far along; a follow-up planned for most of the worked ones, some of them
        overdue (reminded when due) and some later today or this week."""
        key = len(self.steps) + 1
        moves = LEAD_PATH.index(status) + 1 if status in LEAD_PATH else 0
        asked = self.now - timedelta(hours=self.rng.uniform(2, 40) if not moves else self.rng.uniform(1, 9) * 24)
        name, email, phone = self._person()
        day, guests, zip_code = self._wanted(asked)
        hot = self.rng.random() < 0.35  # a big party soon, every detail given: the score calls these hot
        self._inquiry(key, asked, name=name, email=email, phone=phone, event_date=day,
                      guests=max(guests, 25) if hot else guests, zip_code=zip_code)
        if not moves:
            return
        last = self._work(key, asked + timedelta(minutes=15), self.now - timedelta(hours=3), moves)
        self.worked_open += 1
        follow_up = {1: -3, 2: 30}.get(self.worked_open, self.rng.choice([None, -26, -3, 4, 30, 75]))  # h from now
        if follow_up is None:
            return
        due = max(self.now + timedelta(hours=follow_up), last + timedelta(minutes=30))
        self._update(key, last + timedelta(minutes=1), next_follow_up_at=due.isoformat())
        if due <= self.now:
            lead_key = key

            async def remind() -> None:  # what leads.remind_follow_ups did when it fell due
                await remind_follow_up(self.session, self.settings, self.lead_ids[lead_key], utcnow())

            self.steps.append(LeadStep(due + timedelta(minutes=self.rng.randint(1, 5)), key, remind))


async def _write_lead_history(session: AsyncSession, settings: Settings, station: Station, office: Principal,
                              rules: BusinessRules, now: datetime) -> None:
    await LeadHistory(session, settings, station, office, rules, now).write()


async def _score_leads(session: AsyncSession) -> None:
    """The learned models fitted on the history's closed leads, and every open lead scored with them."""
    await scoring.retrain(session)


# --- newsletters: who subscribed, the station's segments, a campaign sent weeks ago and the next ones ----------------

CAMPAIGN_BODY = """# {title}

Thank you for cooking with us this year! Dates for the holidays are going fast, and parties of 15 or more get a
free round of **gyoza**.

[See the menu](https://myhibachi.example/menu) or [pick your date](https://myhibachi.example/book).
"""


async def _write_newsletter_history(session: AsyncSession, station: Station, office: Principal,
                                    now: datetime) -> None:
    """Most of the station's customers and leads asked for news (booking flow, footer form), most of them
    confirmed, a few withdrew later; "Past customers" got a campaign three weeks ago (opens and clicks over the days
    after, one address bounced); a draft and a scheduled campaign wait."""
    rng = random.Random(f"{HISTORY_SEED}:news:{station.code}")  # noqa: S311 - invented data
    await _write_subscriptions(session, station, rng, now)
    with as_of(now - timedelta(days=30)):
        past = await create_segment(session, office, SegmentCreate(
            station_id=station.id, name="Past customers", rules=SegmentRules(customer_status="past_customer")))
        await create_segment(session, office, SegmentCreate(
            station_id=station.id, name="Hot and warm leads", rules=SegmentRules(lead_band=["hot", "warm"])))
    sent_at = now - timedelta(days=21, hours=2)
    with as_of(sent_at - timedelta(hours=3)):
        sent = await create_campaign(session, office, CampaignCreate(
            station_id=station.id, name="Holiday dates", subject="Holiday party dates are going fast",
            body_markdown=CAMPAIGN_BODY.format(title="Book your holiday hibachi party"), segment_id=past.id))
    await _write_campaign_results(session, station, sent, SegmentRules(**past.rules), sent_at, rng)
    with as_of(now - timedelta(days=1)):
        await create_campaign(session, office, CampaignCreate(
            station_id=station.id, name="Spring menu (draft)", subject="New on the grill this spring",
            body_markdown=CAMPAIGN_BODY.format(title="Spring is coming"), segment_id=past.id))
        scheduled = await create_campaign(session, office, CampaignCreate(
            station_id=station.id, name="New Year's Eve", subject="Ring in the new year at your own grill",
            body_markdown=CAMPAIGN_BODY.format(title="A chef for New Year's Eve"), segment_id=past.id))
        await send_campaign(session, office, scheduled.id, CampaignSend(send_at=now + timedelta(days=5)))


async def _write_subscriptions(session: AsyncSession, station: Station, rng: random.Random, now: datetime) -> None:
    asked = {contact_id: (at, ConsentSource.booking_flow) for contact_id, at in await session.execute(
        select(Booking.customer_id, func.min(Booking.created_at)).where(Booking.station_id == station.id)
        .group_by(Booking.customer_id))}
    for contact_id, at in await session.execute(select(Lead.contact_id, Lead.created_at)
                                                .where(Lead.station_id == station.id)):
        asked.setdefault(contact_id, (at, ConsentSource.footer_form))
    for contact_id, (at, source) in sorted(asked.items()):
        if rng.random() > 0.7:
            continue
        events = [(at, ConsentAction.granted, source)]
        if rng.random() < 0.85:
            events.append((at + timedelta(minutes=rng.randint(2, 90)), ConsentAction.confirmed,
                           ConsentSource.confirmation_link))
            if rng.random() < 0.06:
                events.append((_between(rng, events[-1][0], now), ConsentAction.withdrawn, ConsentSource.unsubscribe))
        for moment, action, why in events:
            with as_of(min(moment, now)):
                await record_consent(session, contact_id, action, why, station_id=station.id)


async def _write_campaign_results(session: AsyncSession, station: Station, campaign: Campaign,
                                  rules: SegmentRules, sent_at: datetime, rng: random.Random) -> None:
    """What sending it left: one sent row per person then reachable, opens (and some clicks) over the next days,
    one hard bounce that suppressed its address."""
    zone = ZoneInfo(station.timezone)
    audience = (await session.execute(segment_audience(station.id, rules, sent_at.astimezone(zone).date()))).all()
    links = markdown_links(campaign.body_markdown)
    rows = [CampaignRecipient(campaign_id=campaign.id, contact_id=contact_id, email=email, state="sent", attempts=1,
                              claimed_at=sent_at, sent_at=sent_at + timedelta(seconds=n),
                              message_id=f"<campaign-{campaign.id}-{contact_id}@myhibachi.local>")
             for n, (contact_id, email) in enumerate(audience)]
    session.add_all(rows)
    await session.flush()
    # One bounce and at least one reader who clicked, whatever the dice say for the rest (a small audience could
    # otherwise leave the results page without a click).
    bounced, clicked = rng.sample(rows, 2) if len(rows) >= 2 else (None, None)
    for row in rows:
        if row is clicked or (row is not bounced and rng.random() < 0.45):
            row.opened_at = row.sent_at + timedelta(hours=rng.expovariate(1 / 14))
            session.add(TrackingEvent(campaign_id=campaign.id, recipient_id=row.id, kind="open", at=row.opened_at))
            if row is clicked or rng.random() < 0.3:
                row.clicked_at = row.opened_at + timedelta(minutes=rng.randint(1, 20))
                session.add(TrackingEvent(campaign_id=campaign.id, recipient_id=row.id, kind="click",
                                          url=rng.choice(links), at=row.clicked_at))
    if bounced is not None:
        bounced.bounced_at = bounced.sent_at + timedelta(minutes=1)
        with as_of(bounced.bounced_at):
            await suppress(session, bounced.email, SuppressionReason.hard_bounce, "dsn",
                           "550 5.1.1 The email account that you tried to reach does not exist.")
    campaign.status, campaign.send_at, campaign.started_at = CampaignStatus.sent.value, sent_at, sent_at
    campaign.finished_at = sent_at + timedelta(seconds=len(rows) + 1)


# --- inbox: conversations on every channel, some about a booking or a lead --------------------------------------

ChatLine = tuple[float, str, str]  # (hours before now, who: "them" | "us" | "note", what)


async def _write_conversations(session: AsyncSession, station: Station, office: Principal, now: datetime) -> None:
    """Believable threads on every channel, received and answered through the inbox's own commands: a customer
    texting about their upcoming party (linked to the booking), a lead's email thread (linked to the lead), a new
    Messenger question still unanswered, an Instagram DM whose 24-hour window has closed, a website chat and a text
    from an unknown number (a new contact and lead). Outbound replies went out then: they are recorded delivered."""
    booking = await session.scalar(select(Booking).where(
        Booking.station_id == station.id, Booking.status == BookingStatus.confirmed.value,
        Booking.event_date >= now.date()).order_by(Booking.event_date, Booking.id).limit(1))
    lead = await session.scalar(select(Lead).where(
        Lead.station_id == station.id, Lead.status.in_([LeadStatus.contacted.value, LeadStatus.qualified.value]),
        Lead.email.is_not(None)).order_by(Lead.id).limit(1))
    code = station.code.lower()
    threads: list[tuple[Inbound, list[ChatLine], dict[str, object]]] = []
    if booking is not None and (customer := await session.get(Contact, booking.customer_id)) and customer.phone:
        threads.append((Inbound(channel=Channel.sms, provider_message_id="", body="", phone=customer.phone,
                                station_id=station.id), [
            (50, "them", f"Hi! Could we add 2 kids to our party on {booking.event_date:%b %-d}?"),
            (49.5, "us", "Of course — 2 kids are added at the kids' price. See you then!"),
            (49, "them", "Perfect, thank you!")], {"booking_id": booking.id, "status": "resolved"}))
    if lead is not None and lead.email:
        threads.append((Inbound(channel=Channel.email, provider_message_id="", body="", email=lead.email,
                                name=lead.name, station_id=station.id, subject="Company lunch for 30?"), [
            (30, "them", "Hello, we are planning a company lunch for about 30 people next month. Do you do weekday "
                         "lunches, and what would it cost?"),
            (26, "us", "Hello! Yes, weekday lunches are our quiet days. 30 adults start at the per-person price on our "
                       "menu page; send us the date and the ZIP and we will hold a chef for you."),
            (3, "them", "Thanks! Checking dates with the team and will come back to you.")],
            {"lead_id": lead.id, "status": "open", "note": "Asked for an invoice to the company — check the name.",
             "labels": ["corporate"]}))
    threads += [
        (Inbound(channel=Channel.messenger, provider_message_id="", body="", name="Priya N.",
                 handle=(HandleKind.messenger, f"demo-{code}-psid-1"), station_id=station.id), [
            (1.5, "them", "How much for 14 people in 94538 on the 12th?")], {"status": "open"}),
        (Inbound(channel=Channel.instagram, provider_message_id="", body="", name="@grillfan",
                 handle=(HandleKind.instagram, f"demo-{code}-ig-1"), station_id=station.id), [
            (40, "them", "Do you have vegetarian options? 🌱"),
            (39, "us", "We do: tofu steak and a vegetable fried rice. Any allergies we should know?"),
            (30, "them", "One guest has a sesame allergy")], {"status": "open", "labels": ["allergy"]}),
        (Inbound(channel=Channel.web_chat, provider_message_id="", body="", name="Website visitor",
                 handle=(HandleKind.web_chat, f"demo-{code}-visitor-1"), station_id=station.id), [
            (0.5, "them", "Is there a travel fee to Pleasanton?")], {"status": "open"}),
        (Inbound(channel=Channel.sms, provider_message_id="", body="", phone=f"+1510555{station.id:02d}77",
                 station_id=station.id), [
            (5, "them", "Are you available Dec 31 for 20 people?")], {"status": "open"}),
    ]
    for number, (who, lines, links) in enumerate(threads):
        await _play_thread(session, office, now, who, lines, links, f"demo-{code}-{number}")


# The station's rules fill these in when staff use them (inbox.canned), so they never disagree with the site.
DEMO_CANNED_REPLIES = [
    ("Deposit and hold", "A {deposit} deposit holds your date for {deposit_hours} hours and comes off the total. "
                         "It is refundable up to {refund_hours} hours before the party."),
    ("Prices and minimum", "Adults are {adult_price}, kids 6–12 {child_price}, and under 6 {toddler_price}; "
                           "every party has a {minimum} minimum."),
    ("Travel", "Travel is free for the first {travel_free_miles} miles, then {travel_per_mile} a mile; we go up to "
               "{max_service_miles} miles from {station}."),
]


async def _play_thread(session: AsyncSession, office: Principal, now: datetime, who: Inbound,
                       lines: list[ChatLine], links: dict[str, object], key: str) -> None:
    conversation_id = None
    for place, (hours_ago, side, text) in enumerate(lines):
        at = now - timedelta(hours=hours_ago)
        with as_of(at):
            if side == "them":
                received = await inbox_commands.receive(session, replace(
                    who, provider_message_id=f"{key}-{place}", body=text, at=at))
                assert received is not None
                conversation_id = received.conversation.id
            else:
                assert conversation_id is not None
                sent = await inbox_commands.reply(session, office, conversation_id, text)
                sent.delivery, sent.provider_message_id = DeliveryState.delivered.value, f"{key}-{place}"
    assert conversation_id is not None
    conversation = await session.get_one(Conversation, conversation_id)
    if note := links.get("note"):
        with as_of(now - timedelta(hours=2)):
            await inbox_commands.reply(session, office, conversation_id, str(note), private=True)
    conversation.booking_id = links.get("booking_id") or conversation.booking_id  # type: ignore[assignment]
    conversation.lead_id = links.get("lead_id") or conversation.lead_id  # type: ignore[assignment]
    conversation.status = str(links.get("status", conversation.status))
    if labels := links.get("labels"):
        await inbox_commands.change_labels(session, office, conversation_id, add=labels)  # type: ignore[arg-type]
