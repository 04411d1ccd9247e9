"""Consent API shapes (SPEC §7 "Consent and newsletters")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from myhibachi.consent.models import ConsentAction, ConsentChannel, ConsentPurpose, ConsentSource
from myhibachi.core.text import Email

PublicSource = Literal["api", "footer_form", "booking_flow", "landing_page"]


class SubscribeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"email": "dana@example.com", "station_id": 1, "source": "landing_page"}]})

    email: Email
    station_id: Annotated[int, Field(ge=1, le=2**62)] | None = Field(
        None, description="The station whose news is wanted (none: the business's).")
    source: PublicSource = Field("api", description="Where the visitor asked (kept in the consent ledger).")


class SubscribeAccepted(BaseModel):
    """The same answer for every address: whether one is known, or already subscribed, is not told."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "status": "accepted", "detail": "If this address can receive email, a confirmation link is on its way. "
                                        "Nothing is sent to it before that link is opened."}]})

    status: Literal["accepted"] = "accepted"
    detail: str = ("If this address can receive email, a confirmation link is on its way. Nothing is sent to it "
                   "before that link is opened.")


class ConsentEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "id": 7, "contact_id": 42, "channel": "email", "purpose": "marketing", "action": "granted",
        "source": "footer_form", "station_id": 1, "ip": "203.0.113.7", "at": "2026-11-02T18:04:05Z"}]})

    id: int
    contact_id: int
    channel: ConsentChannel
    purpose: ConsentPurpose
    action: ConsentAction
    source: ConsentSource
    station_id: int | None
    ip: str | None
    at: datetime


class ConsentLedger(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "contact_id": 42, "email_marketing": "confirmed", "items": [
            {"id": 7, "contact_id": 42, "channel": "email", "purpose": "marketing", "action": "granted",
             "source": "footer_form", "station_id": 1, "ip": "203.0.113.7", "at": "2026-11-02T18:04:05Z"},
            {"id": 8, "contact_id": 42, "channel": "email", "purpose": "marketing", "action": "confirmed",
             "source": "confirmation_link", "station_id": 1, "ip": "198.51.100.4", "at": "2026-11-02T18:09:41Z"}]}]})

    contact_id: int
    email_marketing: ConsentAction | None = Field(
        description="The latest email-marketing event: only `confirmed` allows marketing email.")
    items: list[ConsentEventRead] = Field(description="Every grant, confirmation and withdrawal, oldest first.")
