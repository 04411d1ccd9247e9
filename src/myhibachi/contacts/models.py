"""Contacts: one row per person across every door (bookings, leads, and later subscribers and conversations), and
the handles a person is found by (SPEC §7 "People")."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from myhibachi.core.db import Base, BigId, UTCDateTime, utcnow


class HandleKind(StrEnum):
    email = "email"  # normalized: NFKC, trimmed, lower-case
    phone = "phone"  # E.164
    messenger = "messenger"  # a page-scoped id (CRM part 3)
    instagram = "instagram"
    web_chat = "web_chat"


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The person's details as staff know them; a public form never changes them (what it typed stays on its
    # booking, lead or message).
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254), index=True)  # normalized; its handle is the unique one
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ContactHandle(Base):
    """Every email, phone and channel handle a contact is found by: unique, so one handle is one person. A merge
    moves the merged contact's handles to the kept one, so both old addresses find it."""

    __tablename__ = "contact_handles"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # HandleKind
    value: Mapped[str] = mapped_column(String(254), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContactTag(Base):
    """A label staff (or a CSV import) put on a contact, for segments ("tags" rule): lower-case words."""

    __tablename__ = "contact_tags"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
