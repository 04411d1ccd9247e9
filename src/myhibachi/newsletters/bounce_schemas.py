"""What the bounce webhooks answer (SPEC §7: "A hard bounce or complaint suppresses the address")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EventsReceipt(BaseModel):
    """SendGrid's delivery acknowledged: what of it was new."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"received": 3, "stored": 1, "ignored": 1,
                                                               "duplicates": 1}]})

    received: int = Field(description="Events in the body.")
    stored: int = Field(description="New bounces and complaints, stored and acted on.")
    ignored: int = Field(description="Events of other types (delivered, open, click …), or without an address.")
    duplicates: int = Field(description="Bounces and complaints stored before (a redelivery): nothing new.")


class InboundReceipt(BaseModel):
    """A mailed-back report read (200), or another message: stored in the inbox (201), stored before (200), or
    nothing stored while no inbox takes it (202)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"report": "delivery-status", "stored": 1, "duplicates": 0, "detail": "1 bounce or complaint stored."}]})

    report: Literal["delivery-status", "feedback-report"] | None = Field(
        description="The report type; null when the message is not a delivery or feedback report.")
    stored: int = 0
    duplicates: int = 0
    conversation_id: int | None = Field(None, description="The inbox conversation a message was stored in.")
    message_id: int | None = Field(None, description="The inbox message stored.")
    detail: str


NOT_A_REPORT_EXAMPLE = {"report": None, "stored": 0, "duplicates": 0,
                        "detail": "Not a delivery or feedback report: nothing was stored."}
STORED_IN_INBOX_EXAMPLE = {"report": None, "stored": 1, "duplicates": 0, "conversation_id": 12, "message_id": 345,
                           "detail": "Stored in the inbox."}
