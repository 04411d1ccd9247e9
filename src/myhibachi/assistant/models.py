"""What the assistant remembers of a web chat between messages: the party, place, date and contact details the
visitor gave so far, what it asked last (so a bare "18 people" answers it), and how many answers in a row did not
help (two: it asks for a person)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from myhibachi.core.db import Base, BigId, UTCDateTime, utcnow


class AssistantMemory(Base):
    __tablename__ = "assistant_memories"

    conversation_id: Mapped[int] = mapped_column(BigId, ForeignKey("conversations.id", ondelete="CASCADE"),
                                                 primary_key=True)
    slots: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # slot name → value as JSON (dates ISO)
    asked: Mapped[str | None] = mapped_column(String(40))  # what the last answer asked the visitor for
    misses: Mapped[int] = mapped_column(Integer, default=0)  # answers in a row that did not help
    # The latest visitor message answered: a reply job run twice (or the sweep after a lost one) answers it once.
    answered_message_id: Mapped[int | None] = mapped_column(BigId)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
