"""The per-date capacity of availability (HeldLoad) against the definition, event by event (remaining_capacity)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from myhibachi.bookings.capacity import ChefOnDuty, EventTimes, HeldLoad, HeldWindow, remaining_capacity

DAY = date(2026, 12, 10)
MIDNIGHT = datetime(2026, 12, 10, 8, 0, tzinfo=UTC)  # the day's local midnight in Fremont
QUARTER_HOUR = timedelta(minutes=15)
CHEF_IDS = range(1, 7)


def _window(start: int, length: int) -> tuple[datetime, datetime]:
    """Quarter hours from the day's midnight: windows of a few days around it, often sharing edges."""
    busy_start = MIDNIGHT + start * QUARTER_HOUR
    return busy_start, busy_start + length * QUARTER_HOUR


held_events = st.lists(st.tuples(st.sampled_from([None, *CHEF_IDS]), st.integers(-1, 1),
                                 st.integers(-60, 150), st.integers(1, 30)), max_size=40)
rosters = st.lists(st.tuples(st.sampled_from(CHEF_IDS), st.integers(1, 4)), max_size=6,
                   unique_by=lambda chef: chef[0])
windows = st.lists(st.tuples(st.integers(-20, 110), st.integers(1, 30)), min_size=1, max_size=8)


@settings(max_examples=400, deadline=None)
@given(held_events, rosters, windows)
def test_the_per_date_sweep_gives_the_definitions_answer(events, roster, asked) -> None:  # noqa: ANN001
    held = [HeldWindow(n, chef_id, DAY + timedelta(days=day_offset), *_window(start + 96 * day_offset, length))
            for n, (chef_id, day_offset, start, length) in enumerate(events)]
    chefs = [ChefOnDuty(chef_id, limit) for chef_id, limit in roster]
    capacity = HeldLoad.of_events(held).day(chefs, DAY)
    for start, length in asked:
        busy_start, busy_end = _window(start, length)
        window = EventTimes(busy_start, busy_end, busy_start, busy_end)
        assert capacity.remaining(window) == remaining_capacity(chefs, held, DAY, window)


def test_a_span_holds_its_chefs_and_its_unassigned_events() -> None:
    """Three events in one window: two chefs busy, one event without a chef; a third chef is left, minus that
    unassigned event, so none."""
    busy_start, busy_end = _window(40, 10)
    held = [HeldWindow(1, 1, DAY, busy_start, busy_end), HeldWindow(2, 2, DAY, busy_start, busy_end),
            HeldWindow(3, None, DAY, busy_start, busy_end)]
    chefs = [ChefOnDuty(1, 3), ChefOnDuty(2, 3), ChefOnDuty(3, 3), ChefOnDuty(4, 3)]
    window = EventTimes(busy_start, busy_end, busy_start, busy_end)
    later_start, later_end = _window(60, 10)
    later = EventTimes(later_start, later_end, later_start, later_end)

    capacity = HeldLoad.of_events(held).day(chefs, DAY)

    assert capacity.remaining(window) == remaining_capacity(chefs, held, DAY, window) == 1
    assert capacity.remaining(later) == remaining_capacity(chefs, held, DAY, later) == 4
