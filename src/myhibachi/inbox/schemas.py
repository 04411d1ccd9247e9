"""The inbox's JSON shapes (SPEC §7 "Inbox")."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from myhibachi.inbox.models import Channel, ConversationStatus, DeliveryState, Direction, HandledBy, Sender


class ConversationRead(BaseModel):
    id: int
    station_id: int
    contact_id: int
    contact_name: str
    channel: Channel
    status: ConversationStatus
    assignee_id: int | None
    handled_by: HandledBy
    unread: int
    last_message_at: datetime
    window_closes_at: datetime | None = Field(
        None, description="Messenger/Instagram: when Meta's 24-hour reply window closes (null: no window).")
    subject: str | None = None
    lead_id: int | None = None
    booking_id: int | None = None
    labels: list[str] = []


class ConversationPage(BaseModel):
    items: list[ConversationRead]
    next_cursor: str | None


class MessageRead(BaseModel):
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
    messages: list[MessageRead]


class MessageCreate(BaseModel):
    body: str = Field(min_length=1, max_length=10_000)
    private: bool = Field(False, description="A note for staff: goes nowhere.")
    human_agent: bool = Field(False, description="Messenger/Instagram, 24 h to 7 days after the person's last "
                                                 "message: a person answers with Meta's HUMAN_AGENT tag.")


class ConversationUpdate(BaseModel):
    status: ConversationStatus | None = None
    assignee_id: int | None = Field(None, ge=1, le=2**62, description="null with `unassign: true` to unassign.")
    unassign: bool = False
