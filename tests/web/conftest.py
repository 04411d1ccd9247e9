"""The booking fixtures (frozen clock, a station with chefs) serve the booking pages' tests too."""

from tests.bookings.conftest import EVENT_DAY, NOW, add_chefs, book, clock, station  # noqa: F401
