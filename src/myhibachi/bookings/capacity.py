"""Who can cook when (pure): an event's UTC windows, and how many more events a station can take in one.

The capacity model (SPEC §1): a booking needs one chef on duty that date who is free for its whole busy window
and under their daily limit. Bookings without an assigned chef still hold one unit of capacity, so a window's
remaining capacity is the smaller of
- the chefs free for the window (not busy with an assigned overlapping event, under their limit), less the
  unassigned events overlapping it, and
- the events the day's chefs may still do, less the unassigned events of that day.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import chain
from typing import NamedTuple
from zoneinfo import ZoneInfo

from myhibachi.pricing.rules import BusinessRules


# The values built per slot or per held span of every availability answer (over a hundred of each for a month) are
# named tuples: a frozen dataclass's construction costs several times as much.
class EventTimes(NamedTuple):
    start: datetime  # UTC
    end: datetime
    busy_start: datetime
    busy_end: datetime

    def overlaps(self, busy_start: datetime, busy_end: datetime) -> bool:
        return self.busy_start < busy_end and busy_start < self.busy_end


@dataclass(frozen=True)
class ChefOnDuty:
    id: int
    daily_limit: int


class HeldWindow(NamedTuple):
    """An event that holds a chef: confirmed, or awaiting its deposit within the hold."""

    booking_id: int
    chef_id: int | None
    event_date: date
    busy_start: datetime
    busy_end: datetime


class HeldSpan(NamedTuple):
    """The held events of one local date sharing one busy window: the chefs assigned to them, and how many
    have no chef yet (what availability reads: a few spans a day instead of every event)."""

    event_date: date
    busy_start: datetime
    busy_end: datetime
    chef_ids: tuple[int, ...]
    unassigned: int


@dataclass(frozen=True)
class DayCapacity:
    """`remaining_capacity` for the windows of one date, its per-date part computed once."""

    load: HeldLoad
    open_chefs: frozenset[int]  # on duty and under their daily limit
    left_today: int  # events the day's chefs may still do, less the day's unassigned events

    def remaining(self, window: EventTimes) -> int:
        busy: set[int] = set()
        unassigned_overlapping = 0
        for span in self.load.overlapping(window):
            busy.update(span.chef_ids)
            unassigned_overlapping += span.unassigned
        free_for_window = len(self.open_chefs) - len(self.open_chefs.intersection(busy))  # no copy of every chef
        return max(0, min(free_for_window - unassigned_overlapping, self.left_today))


@dataclass(frozen=True)
class DayLoad:
    """The held events of one local date as availability reads them: its spans, each chef's count (against their
    daily limit) and the unassigned count, and when its first pending hold lapses. Only a booking of that date
    changes it (and time, at `lapse`): availability keeps it per date while rules, roster and neighbours change."""

    spans: tuple[HeldSpan, ...]
    assigned: dict[int, int]  # chef id -> the date's events assigned to them
    unassigned: int
    lapse: datetime | None = None  # UTC; None: nothing of it lapses by time

    @classmethod
    def of(cls, spans: Sequence[HeldSpan], lapse: datetime | None = None) -> DayLoad:
        # counted in C from all its spans' chefs (not updated span by span)
        return cls(tuple(spans), Counter(chain.from_iterable(span.chef_ids for span in spans)),
                   sum(span.unassigned for span in spans), lapse)


NOTHING_HELD = DayLoad((), {}, 0)


class HeldLoad:
    """The held events of a range, indexed once: per date its `DayLoad`, and the spans sorted by start, so a window
    meets only the spans that may overlap it (none is longer than the longest) instead of every held event of the
    range."""

    def __init__(self, days: dict[date, DayLoad]) -> None:
        self._days = days
        self._spans = sorted(chain.from_iterable(load.spans for load in days.values()), key=lambda s: s.busy_start)
        self._starts = [span.busy_start for span in self._spans]
        self._longest = max((span.busy_end - span.busy_start for span in self._spans), default=timedelta(0))

    @classmethod
    def of_events(cls, held: Iterable[HeldWindow]) -> HeldLoad:
        groups: dict[tuple[date, datetime, datetime], list[int | None]] = {}
        for event in held:
            groups.setdefault((event.event_date, event.busy_start, event.busy_end), []).append(event.chef_id)
        by_date: defaultdict[date, list[HeldSpan]] = defaultdict(list)
        for (day, start, end), chefs in groups.items():
            by_date[day].append(HeldSpan(day, start, end, tuple(c for c in chefs if c is not None), chefs.count(None)))
        return cls({day: DayLoad.of(spans) for day, spans in by_date.items()})

    def overlapping(self, window: EventTimes) -> list[HeldSpan]:
        busy_start = window.busy_start
        first = bisect_right(self._starts, busy_start - self._longest)
        # each of these starts before the window ends: it overlaps unless it is over by the window's start
        return [span for span in self._spans[first:bisect_left(self._starts, window.busy_end)]
                if span.busy_end > busy_start]

    def day(self, chefs: list[ChefOnDuty], day: date) -> DayCapacity:
        load = self._days.get(day, NOTHING_HELD)
        assigned = load.assigned.get  # .get, not a Counter's missing-key call per chef
        open_chefs, left_today = [], 0
        for chef in chefs:
            if (left := chef.daily_limit - assigned(chef.id, 0)) > 0:
                open_chefs.append(chef.id)
                left_today += left
        return DayCapacity(self, frozenset(open_chefs), left_today - load.unassigned)


def local_starts(zone: ZoneInfo, day: date, slots: Sequence[time]) -> list[datetime | None]:
    """`local_start` of each slot of one date, in UTC (what they are compared with and stored in: comparing
    datetimes of one zone object skips every offset lookup), checked for a DST change once for the whole date: its
    two midnights have one offset unless a change falls between them (two dates a year; no zone changes twice in a
    day)."""
    offset = datetime.combine(day, time(), tzinfo=zone).utcoffset()
    if offset is None or offset != datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).utcoffset():
        return [start.astimezone(UTC) if (start := local_start(zone, day, slot)) else None for slot in slots]
    return [datetime.combine(day, slot, tzinfo=UTC) - offset for slot in slots]


def local_start(zone: ZoneInfo, day: date, slot: time) -> datetime | None:
    """The station-local start as an aware datetime, or None when that wall time does not exist (DST gap)."""
    start = datetime.combine(day, slot, tzinfo=zone)
    if start.utcoffset() == start.replace(fold=1).utcoffset():  # neither in a gap nor repeated: most times, cheaply
        return start
    round_trip = start.astimezone(UTC).astimezone(zone)
    return start if round_trip.replace(tzinfo=None) == start.replace(tzinfo=None) else None


@dataclass(frozen=True)
class EventShape:
    """How long an event of a party size lasts, and how long before and after it its chef is busy."""

    length: timedelta
    before: timedelta
    after: timedelta

    @classmethod
    def of(cls, rules: BusinessRules, guests: int) -> EventShape:
        return cls(timedelta(minutes=rules.event_length_minutes(guests)), timedelta(minutes=rules.busy_before_minutes),
                   timedelta(minutes=rules.busy_after_minutes))

    def at(self, start: datetime) -> EventTimes:
        start = start.astimezone(UTC)
        end = start + self.length
        return EventTimes(start, end, start - self.before, end + self.after)


def event_times(rules: BusinessRules, start: datetime, guests: int) -> EventTimes:
    return EventShape.of(rules, guests).at(start)


def remaining_capacity(chefs: list[ChefOnDuty], held: list[HeldWindow], day: date, window: EventTimes) -> int:
    """How many more events starting in `window` (an event on local date `day`) the chefs on duty can take.

    The definition, event by event; `HeldLoad.day(...).remaining` gives the same answer for many windows."""
    assigned_today: dict[int, int] = {}
    busy: set[int] = set()
    unassigned_today = unassigned_overlapping = 0
    for event in held:
        overlapping = window.overlaps(event.busy_start, event.busy_end)
        if event.chef_id is None:
            unassigned_today += event.event_date == day
            unassigned_overlapping += overlapping
            continue
        if event.event_date == day:
            assigned_today[event.chef_id] = assigned_today.get(event.chef_id, 0) + 1
        if overlapping:
            busy.add(event.chef_id)
    free_for_window = sum(1 for chef in chefs
                          if chef.id not in busy and assigned_today.get(chef.id, 0) < chef.daily_limit)
    left_today = sum(max(0, chef.daily_limit - assigned_today.get(chef.id, 0)) for chef in chefs)
    return max(0, min(free_for_window - unassigned_overlapping, left_today - unassigned_today))


def chef_is_free(chef: ChefOnDuty, held: list[HeldWindow], day: date, window: EventTimes) -> bool:
    """Whether this chef may take an event in `window`: no overlapping event of theirs, under their limit."""
    own = [event for event in held if event.chef_id == chef.id]
    if any(window.overlaps(event.busy_start, event.busy_end) for event in own):
        return False
    return sum(event.event_date == day for event in own) < chef.daily_limit


def stranded_bookings(chefs: list[ChefOnDuty], held: list[HeldWindow], day: date) -> set[int]:
    """Unassigned events of `day` that no chef could take any more, given the assignments in `held`."""
    stranded = set()
    for event in held:
        if event.chef_id is None and event.event_date == day:
            others = [other for other in held if other.booking_id != event.booking_id]
            window = EventTimes(event.busy_start, event.busy_end, event.busy_start, event.busy_end)
            if remaining_capacity(chefs, others, day, window) < 1:
                stranded.add(event.booking_id)
    return stranded
