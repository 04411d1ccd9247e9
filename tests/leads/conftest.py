"""The booking fixtures (frozen clock, a station with chefs, booking over the API) serve the lead doors' tests."""

from tests.bookings.conftest import add_chefs, book, clock, station  # noqa: F401
