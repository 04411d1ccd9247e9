"""The booking as an iCalendar event (.ics): local start and end with the station's time zone."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.settings import Settings
from myhibachi.stations.models import Station

ICS_STATUS = {BookingStatus.pending_deposit: "TENTATIVE", BookingStatus.cancelled: "CANCELLED",
              BookingStatus.expired: "CANCELLED"}


def venue_text(booking: Booking) -> str:
    street = ", ".join(part for part in (booking.venue_line1, booking.venue_line2) if part)
    return f"{street}, {booking.venue_city}, {booking.venue_state} {booking.venue_zip}"


def booking_calendar(settings: Settings, station: Station, booking: Booking, manage_link: str | None = None) -> str:
    zone = ZoneInfo(station.timezone)
    cancelled = booking.status in (BookingStatus.cancelled, BookingStatus.expired)
    import icalendar  # here: made for a confirmation or a download, not by every process

    calendar = icalendar.Calendar()
    calendar.add("prodid", f"-//{settings.brand_name}//Bookings//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = icalendar.Event()
    event.add("uid", f"{booking.reference}@{settings.brand_name.lower()}")
    # Each change bumps the sequence so calendars replace the earlier copy instead of adding another.
    event.add("sequence", booking.reschedule_count + (1 if cancelled else 0))
    event.add("dtstamp", booking.updated_at)
    event.add("dtstart", booking.event_start.astimezone(zone))
    event.add("dtend", booking.event_end.astimezone(zone))
    event.add("summary", f"{settings.brand_name} hibachi party ({booking.reference})")
    event.add("location", venue_text(booking))
    description = f"{booking.guests} guests. Allergies: {booking.allergies}."
    if manage_link:
        description += f"\nManage your booking: {manage_link}"
    event.add("description", description)
    event.add("status", ICS_STATUS.get(BookingStatus(booking.status), "CONFIRMED"))
    calendar.add_component(event)
    # The zone's rules around the event are enough (the default, 1970-2038, costs a third of a booking's CPU).
    calendar.add_missing_timezones(first_date=booking.event_date - timedelta(days=366),
                                   last_date=booking.event_date + timedelta(days=366))
    return calendar.to_ical().decode()
