"""Segments: who of a station's people a campaign is for, from the SPEC §7 rules over their bookings, leads,
zip codes and tags. A station's people are everyone with a booking or a lead there, or who subscribed there.
Every rule given must hold (AND); a list rule holds when any of its values does. Only contacts that marketing may
reach (`consent.queries.marketing_audience`) are ever recipients, so a preview counts exactly who would get it."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Select, and_, exists, func, or_, select, union

from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.consent.models import ConsentEvent, Topic
from myhibachi.consent.queries import marketing_audience
from myhibachi.contacts.models import Contact, ContactTag
from myhibachi.leads.models import Lead, LeadStatus

CustomerStatus = Literal["past_customer", "upcoming", "never_booked"]
# A booking that happened or will: what "customer" means here (a lapsed hold or a cancellation is not one).
REAL_BOOKING = (BookingStatus.confirmed.value, BookingStatus.completed.value)
Tag = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9 _-]{0,39}$")]


class SegmentRules(BaseModel):
    """SPEC §7's rules; each one left out does not filter."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"customer_status": "past_customer", "last_event_before": "2026-01-01", "zip_prefix": ["945"]}]})

    customer_status: CustomerStatus | None = Field(
        None, description="past_customer: an event here that has happened; upcoming: a confirmed event still to "
                          "come; never_booked: no confirmed or completed booking here.")
    last_event_before: date | None = Field(None, description="Their latest event here was before this day.")
    last_event_after: date | None = Field(None, description="Their latest event here was after this day.")
    lead_band: list[Literal["hot", "warm", "cold"]] | None = Field(
        None, max_length=3, description="They have a lead here in one of these bands.")
    lead_status: list[LeadStatus] | None = Field(None, max_length=6,
                                                 description="They have a lead here in one of these statuses.")
    zip_prefix: list[Annotated[str, Field(pattern=r"^[0-9]{1,5}$")]] | None = Field(
        None, max_length=50, description="A booking's venue or a lead's zip code starts with one of these.")
    tags: list[Tag] | None = Field(None, max_length=20, description="The contact has one of these tags.")

    @model_validator(mode="after")
    def _dates_in_order(self) -> SegmentRules:
        if self.last_event_before and self.last_event_after and self.last_event_after >= self.last_event_before:
            raise ValueError("last_event_after must be before last_event_before")
        return self


def station_people(station_id: int) -> Select[tuple[int]]:
    """Everyone with a booking or a lead at the station, or who subscribed there."""
    return union(
        select(Booking.customer_id).where(Booking.station_id == station_id),
        select(Lead.contact_id).where(Lead.station_id == station_id),
        select(ConsentEvent.contact_id).where(ConsentEvent.station_id == station_id),
    )  # type: ignore[return-value]


def segment_contact_ids(station_id: int, rules: SegmentRules, today: date) -> Select[tuple[int]]:
    """The station's people the rules pick (consent not yet applied). `today`: the station's local date."""
    booking_here = and_(Booking.customer_id == Contact.id, Booking.station_id == station_id,
                        Booking.status.in_(REAL_BOOKING))
    lead_here = and_(Lead.contact_id == Contact.id, Lead.station_id == station_id)
    conditions = [Contact.id.in_(station_people(station_id))]
    if rules.customer_status == "past_customer":
        conditions.append(exists().where(booking_here, Booking.event_date < today))
    elif rules.customer_status == "upcoming":
        conditions.append(exists().where(booking_here, Booking.status == BookingStatus.confirmed.value,
                                         Booking.event_date >= today))
    elif rules.customer_status == "never_booked":
        conditions.append(~exists().where(booking_here))
    if rules.last_event_before or rules.last_event_after:
        last_event = (select(func.max(Booking.event_date)).where(booking_here, Booking.event_date < today)
                      .scalar_subquery())
        if rules.last_event_before:
            conditions.append(last_event < rules.last_event_before)
        if rules.last_event_after:
            conditions.append(last_event > rules.last_event_after)
    if rules.lead_band:
        conditions.append(exists().where(lead_here, Lead.band.in_(rules.lead_band)))
    if rules.lead_status:
        conditions.append(exists().where(lead_here, Lead.status.in_([s.value for s in rules.lead_status])))
    if rules.zip_prefix:
        conditions.append(or_(
            *[exists().where(and_(Booking.customer_id == Contact.id, Booking.station_id == station_id),
                             Booking.venue_zip.startswith(prefix, autoescape=True)) for prefix in rules.zip_prefix],
            *[exists().where(lead_here, Lead.zip_code.startswith(prefix, autoescape=True))
              for prefix in rules.zip_prefix]))
    if rules.tags:
        conditions.append(exists().where(ContactTag.contact_id == Contact.id, ContactTag.tag.in_(rules.tags)))
    return select(Contact.id).where(*conditions)


def segment_audience(station_id: int, rules: SegmentRules, today: date) -> Select[tuple[int, str]]:
    """(contact id, email) of who a campaign to this segment goes to: picked by the rules, and reachable by
    marketing of news from this station (confirmed, not suppressed, not opted out). Ordered by contact id."""
    return (select(Contact.id, Contact.email)
            .where(Contact.id.in_(segment_contact_ids(station_id, rules, today)),
                   Contact.id.in_(marketing_audience(Topic.news, station_id)))
            .order_by(Contact.id))  # type: ignore[return-value]
