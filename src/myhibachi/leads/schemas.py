"""Lead API shapes (SPEC §7 "Leads")."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from myhibachi.contacts.schemas import Phone
from myhibachi.core.dates import EARLIEST_DAY, LATEST_DAY
from myhibachi.core.text import Email, multi_line, single_line
from myhibachi.leads.models import LeadSource, LeadStatus

WantedDate = Annotated[date, Field(ge=EARLIEST_DAY, le=LATEST_DAY, description="The station-local date wanted.")]
ZipCode = Annotated[str, Field(pattern=r"^[0-9]{5}$", examples=["94538"])]


class LeadCreate(BaseModel):
    """An inquiry: from the public (any door) or entered by staff. One of email or phone is required."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "station_id": 1, "name": "Dana Reyes", "email": "dana@example.com", "phone": "+15105550142",
        "event_date": "2027-01-16", "guests": 14, "zip_code": "94538",
        "message": "Birthday dinner in the back yard — do you bring the grill?"}]})

    station_id: Annotated[int, Field(ge=1, le=2**62)]
    name: single_line(120)
    email: Email | None = None
    phone: Phone | None = None
    event_date: WantedDate | None = None
    guests: Annotated[int, Field(ge=1, le=1000)] | None = None
    zip_code: ZipCode | None = None
    message: multi_line(4000) | None = None

    @model_validator(mode="after")
    def reachable(self) -> Self:
        if self.email is None and self.phone is None:
            raise ValueError("give an email address or a phone number, so that we can answer")
        return self


class FlowDetails(BaseModel):
    """What the booking flow's details step had when it was left: an email, and whatever else was valid."""

    name: single_line(120, min_length=0) = ""
    email: Email
    phone: Phone | None = None
    event_date: WantedDate | None = None
    guests: Annotated[int, Field(ge=1, le=1000)] | None = None
    zip_code: ZipCode | None = None

    @classmethod
    def of_typed(cls, typed: dict[str, object]) -> FlowDetails | None:
        """The details as typed, each field that does not validate left out; None without a valid email."""
        values = {name: value for name, value in typed.items() if value not in (None, "")}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            wrong = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
            if "email" in wrong or "email" not in values:
                return None
            return cls.model_validate({k: v for k, v in values.items() if k not in wrong})


class LeadCreated(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"id": 42, "status": "new"}]})

    id: int
    status: LeadStatus


class LeadUpdate(BaseModel):
    """Only the fields sent change; null clears `assignee_id` and `next_follow_up_at`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"status": "contacted", "assignee_id": 7, "next_follow_up_at": "2026-12-08T17:00:00Z"},
        {"status": "lost", "lost_reason": "price"}]})

    status: LeadStatus | None = None
    assignee_id: Annotated[int, Field(ge=1, le=2**62)] | None = None
    lost_reason: Annotated[str, Field(max_length=40)] | None = None
    next_follow_up_at: AwareDatetime | None = None


class ActivityCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"kind": "call", "body": "Left a voicemail about the 16th; will try again tomorrow."}]})

    kind: Literal["note", "call", "email", "sms"]
    body: multi_line(4000, min_length=1)


class ActivityRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"kind": "call", "body": "Left a voicemail.", "at": "2026-12-06T18:00:00Z", "actor": "Sam Support"}]})

    kind: str
    body: str
    at: datetime
    actor: str | None = Field(description="Who did it; null for the system or the person themselves.")


class ScoreFactor(BaseModel):
    factor: str
    points: int
    reason: str = Field(description="What was measured, in words.")


class ProbabilityFactor(BaseModel):
    factor: str
    weight: float = Field(description="Log-odds this factor's value added (+) or took away (−).")
    reason: str = ""


class LeadRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "id": 42, "station_id": 1, "contact_id": 9, "name": "Dana Reyes", "email": "dana@example.com",
        "phone": "+15105550142", "source": "contact_form", "status": "new", "score": 74, "band": "hot",
        "probability": 0.41, "assignee_id": None, "next_follow_up_at": None, "overdue": False,
        "event_date": "2027-01-16", "guests": 14, "created_at": "2026-12-06T18:00:00Z"}]})

    id: int
    station_id: int
    contact_id: int
    name: str
    email: str | None
    phone: str | None
    source: LeadSource
    status: LeadStatus
    score: int
    band: Literal["hot", "warm", "cold"]
    probability: float
    assignee_id: int | None
    next_follow_up_at: datetime | None
    overdue: bool = Field(False, description="Open, with a follow-up due in the past.")
    event_date: date | None
    guests: int | None
    created_at: datetime


class LeadPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [], "next_cursor": None}]})

    items: list[LeadRead]
    next_cursor: str | None


class LeadDetail(LeadRead):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        **LeadRead.model_config["json_schema_extra"]["examples"][0],  # type: ignore[index]
        "zip_code": "94538", "message": "Birthday dinner", "lost_reason": None, "booking_id": None,
        "score_factors": [{"factor": "party_size", "points": 11, "reason": "14 guests"}],
        "probability_factors": [{"factor": "source", "weight": 0.4, "reason": "contact form"}],
        "activities": [{"kind": "inquiry", "body": "Contact form: Birthday dinner", "at": "2026-12-06T18:00:00Z",
                        "actor": None}]}]})

    zip_code: str | None
    message: str | None
    lost_reason: str | None
    booking_id: int | None
    score_factors: list[ScoreFactor]
    probability_factors: list[ProbabilityFactor]
    activities: list[ActivityRead]
