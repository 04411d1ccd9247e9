"""Finding or creating the contact behind a booking, a lead or a message."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.audit.commands import record_audit
from myhibachi.contacts.models import Contact, ContactHandle, ContactTag, HandleKind
from myhibachi.core.db import utcnow
from myhibachi.core.errors import ValidationFailed
from myhibachi.core.text import normalize_email


@dataclass(frozen=True)
class Identity:
    """What a door knows of a person: any of a normalized email, an E.164 phone, a channel handle."""

    email: str | None = None
    phone: str | None = None
    handle: tuple[HandleKind, str] | None = None

    def keys(self) -> list[tuple[str, str]]:
        """(kind, value) in the order a person is matched by: email, then a channel handle, then phone (a shared
        family phone is the weakest sign of one person)."""
        keys = [(HandleKind.email.value, normalize_email(self.email))] if self.email else []
        if self.handle:
            keys.append((self.handle[0].value, self.handle[1]))
        if self.phone:
            keys.append((HandleKind.phone.value, self.phone))
        return keys


async def find_contact(session: AsyncSession, identity: Identity) -> Contact | None:
    keys = identity.keys()
    if not keys:
        return None
    rows = {(h.kind, h.value): h.contact_id for h in await session.scalars(
        select(ContactHandle).where(tuple_(ContactHandle.kind, ContactHandle.value).in_(keys)))}
    for key in keys:
        if key in rows:
            contact = await session.get_one(Contact, rows[key], populate_existing=True)
            if key[0] != HandleKind.phone or not _other_email(contact, identity):
                return contact
    return None


def _other_email(contact: Contact, identity: Identity) -> bool:
    """A phone shared with someone who has another email (a spouse, a family line) does not make them one person."""
    return bool(identity.email and contact.email and contact.email != normalize_email(identity.email))


async def find_or_create_contact(session: AsyncSession, identity: Identity, *, name: str) -> Contact:
    """The contact any of the identity's handles finds; else a new one with these details and handles. Found, it
    keeps its own name and details: anyone can type any address into a public form (SPEC §7).

    Two doors at once for one new person: both insert their contact, but a handle is unique, so the second's
    `ON CONFLICT DO NOTHING` waits for the first to commit and inserts nothing; it then drops its own row and
    answers the first's contact."""
    if (contact := await find_contact(session, identity)) is not None:
        return contact
    keys = identity.keys()
    if not keys:
        raise ValueError("a contact needs an email, a phone or a handle")
    contact = Contact(name=name, email=normalize_email(identity.email) if identity.email else None,
                      phone=identity.phone)
    session.add(contact)
    await session.flush()
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    claimed = set((await session.execute(
        insert(ContactHandle).values([{"kind": kind, "value": value, "contact_id": contact.id, "created_at": now}
                                      for kind, value in keys])
        .on_conflict_do_nothing().returning(ContactHandle.kind))).scalars())
    if keys[0][0] not in claimed:  # another door made this person first
        await session.execute(delete(ContactHandle).where(ContactHandle.contact_id == contact.id))
        await session.delete(contact)
        await session.flush()
        winner = await find_contact(session, identity)
        assert winner is not None
        return winner
    return contact


async def complete_contact(session: AsyncSession, contact_id: int, identity: Identity, *, name: str | None) -> Contact:
    """Details a person gives about themselves where they are known by a channel handle only (a website chat): each
    email or phone no other contact holds becomes this contact's handle, and fills the contact's field if it is
    empty; the name replaces the placeholder of a contact that had neither email nor phone. Nothing stored is
    overwritten (SPEC §7)."""
    contact = await session.get_one(Contact, contact_id, with_for_update=True)
    anonymous = not contact.email and not contact.phone
    keys = identity.keys()
    taken = {(h.kind, h.value) for h in await session.scalars(
        select(ContactHandle).where(tuple_(ContactHandle.kind, ContactHandle.value).in_(keys)))}
    free = [key for key in keys if key not in taken
            and key[0] in (HandleKind.email.value, HandleKind.phone.value)]
    claimed: list[tuple[str, str]] = []
    if free:
        insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        now = utcnow()
        claimed = [(row.kind, row.value) for row in await session.execute(insert(ContactHandle).values(
            [{"kind": kind, "value": value, "contact_id": contact.id, "created_at": now} for kind, value in free])
            .on_conflict_do_nothing().returning(ContactHandle.kind, ContactHandle.value))]  # another door may win
    before = {"name": contact.name, "email": contact.email, "phone": contact.phone}
    for kind, value in claimed:
        field = "email" if kind == HandleKind.email.value else "phone"
        if not getattr(contact, field):
            setattr(contact, field, value)
    if anonymous and name:
        contact.name = name
    after = {"name": contact.name, "email": contact.email, "phone": contact.phone}
    if after != before:
        await record_audit(session, actor_user_id=None, action="contacts.complete", target_type="contact",
                           target_id=contact.id, before=before, after=after)
    await session.flush()
    return contact


# --- tags -----------------------------------------------------------------------------------------------------------

# What segments' `tags` rule matches (newsletters.segments.Tag has the same pattern).
TAG_PATTERN = re.compile(r"[a-z0-9][a-z0-9 _-]{0,39}")


def normalize_tag(text: str) -> str:
    """A tag as stored: NFKC, lower-case, inner spaces single. Refused (422 on `tag`) unless 1–40 of a-z, 0-9,
    space, - and _, starting with a letter or digit."""
    tag = " ".join(unicodedata.normalize("NFKC", text).lower().split())
    if not TAG_PATTERN.fullmatch(tag):
        raise ValidationFailed.on("tag", "A tag is 1 to 40 lower-case letters, digits, spaces, - or _, starting "
                                         "with a letter or a digit.")
    return tag


async def contact_tags(session: AsyncSession, contact_id: int) -> list[str]:
    return list(await session.scalars(select(ContactTag.tag).where(ContactTag.contact_id == contact_id)
                                      .order_by(ContactTag.tag)))


async def add_contact_tag(session: AsyncSession, contact_id: int, text: str, *, actor_user_id: int | None,
                          station_ids: Sequence[int | None] = (None,)) -> str:
    """Tags the contact (once: a tag it has changes nothing); audited `contacts.tag` per station. The caller has
    authorized the change (who may see the contact is decided above contacts)."""
    tag = normalize_tag(text)
    if await session.get(ContactTag, (contact_id, tag)) is None:
        session.add(ContactTag(contact_id=contact_id, tag=tag))
        await session.flush()
        for station_id in station_ids:
            await record_audit(session, actor_user_id=actor_user_id, action="contacts.tag", target_type="contact",
                               target_id=contact_id, station_id=station_id, after={"tag": tag})
    return tag


async def remove_contact_tag(session: AsyncSession, contact_id: int, text: str, *, actor_user_id: int | None,
                             station_ids: Sequence[int | None] = (None,)) -> None:
    """Takes the tag off (nothing if it has none); audited `contacts.untag` per station."""
    row = await session.get(ContactTag, (contact_id, " ".join(text.lower().split())))
    if row is None:
        return
    await session.delete(row)
    await session.flush()
    for station_id in station_ids:
        await record_audit(session, actor_user_id=actor_user_id, action="contacts.untag", target_type="contact",
                           target_id=contact_id, station_id=station_id, before={"tag": row.tag})


# What later domains keep about a contact (their conversations, say) moves to the kept contact of a merge through
# these steps, run by the merge before the merged contact is deleted: it must not take their rows with it.
MergeStep = Callable[[AsyncSession, int, int], Awaitable[None]]  # (session, keep_id, merge_id)
_merge_steps: list[MergeStep] = []


def on_contact_merge(step: MergeStep) -> MergeStep:
    _merge_steps.append(step)
    return step


async def run_merge_steps(session: AsyncSession, keep_id: int, merge_id: int) -> None:
    for step in _merge_steps:
        await step(session, keep_id, merge_id)
