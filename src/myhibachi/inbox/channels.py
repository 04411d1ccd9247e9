"""The one interface every channel's outbound side implements (SMS, email, Messenger, Instagram, web chat), and
the file writer that stands in for a channel whose settings are unset: its messages land as JSON under
OUTBOX_DIR/<channel>/, so the embedded default works offline and a developer can read what would have gone."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol

import anyio

from myhibachi.core.outbox import OutboxContext
from myhibachi.inbox.models import Channel
from myhibachi.settings import Settings


@dataclass(frozen=True)
class Outgoing:
    """One outbound message for a channel's provider."""

    message_id: int  # ours (conversation_messages.id): the idempotency key where a provider takes one
    conversation_id: int
    channel: Channel
    to: str  # E.164 phone, email address, Meta page-scoped id, or web chat visitor key
    body: str
    subject: str | None = None  # email
    in_reply_to: str | None = None  # email: the thread's last inbound Message-ID
    references: str | None = None  # email
    tag: str | None = None  # Meta: HUMAN_AGENT when a person answers outside the 24-hour window
    sender: str = "staff"  # Sender: who wrote it (the web chat shows a person's and the assistant's apart)
    at: str | None = None  # when it was written, ISO 8601 (the web chat shows it)


@dataclass(frozen=True)
class Sent:
    provider_message_id: str


class ChannelRefused(Exception):
    """The provider refused the message for good (a bad number, a closed window…): it is `failed`, not retried.
    Any other exception from `send` is temporary: the outbox tries the delivery again later."""


class ChannelAdapter(Protocol):
    async def send(self, message: Outgoing) -> Sent: ...


# What the outbox handler has (settings, the live hub) -> the adapter; None: the channel's settings are unset.
AdapterFactory = Callable[[OutboxContext], ChannelAdapter | None]
_factories: dict[Channel, AdapterFactory] = {}


def register_adapter(channel: Channel, factory: AdapterFactory) -> None:
    _factories[channel] = factory


def adapter_for(context: OutboxContext, channel: Channel) -> ChannelAdapter:
    factory = _factories.get(channel)
    adapter = factory(context) if factory is not None else None
    return adapter if adapter is not None else FileAdapter(context.settings, channel)


class FileAdapter:
    """A channel that is off: the message is written as `<message_id>.json` (writing it again replaces it)."""

    def __init__(self, settings: Settings, channel: Channel) -> None:
        self.folder = settings.outbox_dir / channel.value

    async def send(self, message: Outgoing) -> Sent:
        folder = anyio.Path(self.folder)
        await folder.mkdir(parents=True, exist_ok=True)
        await (folder / f"{message.message_id}.json").write_text(json.dumps(asdict(message), indent=2) + "\n")
        return Sent(f"file-{message.message_id}")
