"""The inbox's JSON shapes (SPEC §7 "Inbox")."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from myhibachi.core.text import single_line
from myhibachi.inbox.models import (
    Channel,
    ConversationStatus,
    DeliveryState,
    Direction,
    HandledBy,
    HandoffReason,
    Sender,
)

CONVERSATION_EXAMPLE = {
    "id": 7, "station_id": 1, "contact_id": 42, "contact_name": "Kim Lee", "channel": "sms", "status": "open",
    "assignee_id": None, "handled_by": "human", "unread": 1, "last_message_at": "2026-12-01T18:04:00Z",
    "window_closes_at": None, "subject": None, "lead_id": 12, "booking_id": None, "labels": []}
MESSAGE_EXAMPLE = {"id": 90, "direction": "out", "sender": "staff", "author": "Ada Admin",
                   "body": "From $550 for 10 adults.", "body_html": None, "private": False,
                   "at": "2026-12-01T18:06:00Z", "delivery": "sent", "delivery_error": None, "tag": None}


class ConversationRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [CONVERSATION_EXAMPLE]})

    id: int
    station_id: int
    contact_id: int
    contact_name: str
    channel: Channel
    status: ConversationStatus
    assignee_id: int | None
    handled_by: HandledBy = Field(description="Who answers: the website assistant (`bot`) or a person.")
    handoff_requested_at: datetime | None = Field(
        None, description="The assistant asked for a person then; nobody has taken the conversation yet.")
    handoff_reason: HandoffReason | None = Field(None, description="Why the assistant asked for a person.")
    unread: int
    last_message_at: datetime
    window_closes_at: datetime | None = Field(
        None, description="Messenger/Instagram: when Meta's 24-hour reply window closes (null: no window).")
    subject: str | None = None
    lead_id: int | None = None
    booking_id: int | None = None
    labels: list[str] = []
    late: bool = Field(False, description="Its answer is overdue: the station's first- or next-response target, "
                                          "counted in its inbox hours, has passed.")
    answer_due_at: datetime | None = Field(None, description="When the person's waiting message should be answered "
                                                             "(null: nothing waits for an answer).")
    hold_lapses_soon: bool = Field(False, description="Its booking's unpaid hold lapses within the hour.")
    hold_expires_at: datetime | None = Field(None, description="When its booking's unpaid hold lapses.")


class ConversationPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [CONVERSATION_EXAMPLE], "next_cursor": None}]})

    items: list[ConversationRead]
    next_cursor: str | None


class MessageRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [MESSAGE_EXAMPLE]})

    id: int
    direction: Direction
    sender: Sender
    author: str | None = Field(None, description="The staff member who wrote it.")
    body: str
    body_html: str | None = None
    private: bool
    at: datetime
    delivery: DeliveryState | None = None
    delivery_error: str | None = None
    tag: str | None = None


class ConversationDetail(ConversationRead):
    model_config = ConfigDict(json_schema_extra={"examples": [{**CONVERSATION_EXAMPLE, "messages": [MESSAGE_EXAMPLE]}]})

    messages: list[MessageRead]


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"body": "From $550 for 10 adults.", "private": False}]})

    body: str = Field(min_length=1, max_length=10_000)
    private: bool = Field(False, description="A note for staff: goes nowhere.")
    human_agent: bool = Field(False, description="Messenger/Instagram, 24 h to 7 days after the person's last "
                                                 "message: a person answers with Meta's HUMAN_AGENT tag.")


Label = single_line(40)


class ConversationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"status": "resolved"}]})

    status: ConversationStatus | None = None
    assignee_id: int | None = Field(None, ge=1, le=2**62, description="null with `unassign: true` to unassign.")
    unassign: bool = False
    labels: list[Label] | None = Field(None, max_length=20, description="The whole set of labels (lower case).")
