"""Contact shapes of the staff API (SPEC §7 "People"): a contact with its handles, leads and bookings, and a merge."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from myhibachi.leads.schemas import LeadRead


class HandleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str = Field(description="email | phone | messenger | instagram | web_chat")
    value: str


class ContactBooking(BaseModel):
    """A booking of the contact, with the details it was made with."""

    id: int
    reference: str
    station_id: int
    status: str
    event_date: date
    slot_time: str
    guests: int
    contact_name: str
    contact_email: str
    created_at: datetime


class ContactDetail(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 9, "name": "Dana Reyes", "email": "dana@example.com", "phone": "+15105550142",
        "created_at": "2026-11-02T18:00:00Z",
        "handles": [{"kind": "email", "value": "dana@example.com"}, {"kind": "email", "value": "dana.r@example.org"},
                    {"kind": "phone", "value": "+15105550142"}],
        "leads": [{**LeadRead.model_config["json_schema_extra"]["examples"][0]}],  # type: ignore[index]
        "bookings": [{"id": 31, "reference": "HB7K2Q9XZP", "station_id": 1, "status": "confirmed",
                      "event_date": "2027-01-16", "slot_time": "18:00", "guests": 14, "contact_name": "Dana Reyes",
                      "contact_email": "dana@example.com", "created_at": "2026-12-07T19:30:00Z"}],
        "tags": ["vip", "wedding planner"]}]})

    id: int
    name: str
    email: str | None
    phone: str | None
    created_at: datetime
    handles: list[HandleRead]
    leads: list[LeadRead] = Field(description="Newest first, at the stations where you work leads.")
    bookings: list[ContactBooking] = Field(description="Newest event first, at the stations where you work leads.")
    tags: list[str] = Field(default_factory=list, description="Staff's labels, for segments' `tags` rule; a-z.")


class ContactMerge(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"other_id": 12}]})

    other_id: Annotated[int, Field(ge=1, le=2**62, description="The duplicate: merged into this contact and gone.")]
