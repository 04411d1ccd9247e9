"""What the campaign delivery tests share (on top of ../conftest.py): a station with confirmed subscribers, campaigns
written straight to the database, a real SMTP server (aiosmtpd on loopback) that can refuse or defer chosen
recipients and run a hook before it answers a message, and readers of what happened."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select, update

from myhibachi.consent.commands import record_consent
from myhibachi.consent.models import ConsentAction, ConsentSource
from myhibachi.contacts.commands import Identity, find_or_create_contact
from myhibachi.core.db import Database, utcnow
from myhibachi.core.runtime import Runtime
from myhibachi.newsletters.models import Campaign, CampaignRecipient, CampaignStatus, Segment
from myhibachi.newsletters.sending import kick_campaign
from myhibachi.settings import Settings
from myhibachi.stations.models import Station
from tests.smtp import EphemeralPortController, SmtpServer

BODY = ("# Summer is here\n\nBook a [backyard party](https://example.com/book?utm=summer) this month, "
        "or read [our menu](https://example.com/menu).\n\nSee you soon!")


class Sink(SmtpServer):
    """The loopback SMTP server of these tests: refuses (`rcpt_replies`) or answers the end of a message
    (`data_replies`) as told per address, once or always, and awaits `before_reply(n)` (n: messages so far) in its
    own event loop before answering the n-th message it accepts."""

    def __init__(self) -> None:
        super().__init__()
        self.rcpt_replies: dict[str, list[str]] = {}  # address -> replies to give, in turn (the last one stays)
        self.data_replies: dict[str, list[str]] = {}
        self.before_reply: Callable[[int], Awaitable[None]] | None = None
        self.hold_at_rcpt: int | None = None  # the n-th RCPT is not answered until `release` (a worker frozen there)
        self.holding, self.release = threading.Event(), threading.Event()
        self.rcpts = 0

    @staticmethod
    def _next(replies: dict[str, list[str]], address: str) -> str | None:
        queued = replies.get(address)
        if not queued:
            return None
        return queued.pop(0) if len(queued) > 1 else queued[0]

    async def handle_RCPT(self, _server: Any, _session: Any, envelope: Any, address: str,  # noqa: N802
                          _options: list[str]) -> str:
        self.rcpts += 1
        if self.rcpts == self.hold_at_rcpt:
            self.holding.set()
            for _ in range(600):  # at most a minute
                if self.release.is_set():
                    break
                await asyncio.sleep(0.1)
        if (reply := self._next(self.rcpt_replies, address)) is not None and not reply.startswith("2"):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if (reply := self._next(self.data_replies, envelope.rcpt_tos[0])) is not None and not reply.startswith("2"):
            return reply
        answer = await super().handle_DATA(server, session, envelope)
        if self.before_reply is not None:
            await self.before_reply(len(self.messages))
        return answer

    def received_by(self) -> Counter[str]:
        return Counter(str(message["To"]) for message in self.messages)


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    controller = EphemeralPortController(server, hostname="127.0.0.1", port=0, ready_timeout=5)
    controller.start()
    server.port = controller.port
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def settings(settings: Settings, sink: Sink) -> Settings:
    """SMTP to the sink, unthrottled, small batches over two connections: several batches in every campaign."""
    return settings.model_copy(update={"smtp_url": sink.url, "newsletter_messages_per_second": 0,
                                       "newsletter_batch_size": 4, "newsletter_smtp_connections": 2,
                                       "newsletter_claim_seconds": 60})


@pytest.fixture
async def station(make_station) -> Station:  # noqa: ANN001
    return await make_station("FRE")


async def subscribers(db: Database, station: Station, count: int, prefix: str = "fan") -> list[int]:
    """`count` people who confirmed news from the station (so they are its people and reachable)."""
    ids = []
    async with db.transaction() as session:
        for n in range(count):
            contact = await find_or_create_contact(session, Identity(email=f"{prefix}{n}@example.com"), name="")
            for action in (ConsentAction.granted, ConsentAction.confirmed):
                await record_consent(session, contact.id, action, ConsentSource.footer_form, station_id=station.id)
            ids.append(contact.id)
    return ids


async def make_campaign(db: Database, station: Station, *, status: CampaignStatus = CampaignStatus.sending,
                        body: str = BODY, rules: dict[str, Any] | None = None, **fields: Any) -> int:
    async with db.transaction() as session:
        segment = Segment(station_id=station.id, name="Everyone", rules=rules or {})
        session.add(segment)
        await session.flush()
        campaign = Campaign(station_id=station.id, name="Summer", subject="Summer parties", body_markdown=body,
                            segment_id=segment.id, status=status.value, **fields)
        session.add(campaign)
        await session.flush()
        return campaign.id


async def kick(runtime: Runtime, campaign_id: int) -> None:
    """What the campaign commands do once a campaign is `sending`; the jobs run inline in the tests."""
    async with runtime.jobs.unit_of_work() as session:
        await kick_campaign(session, campaign_id)


async def set_status(db: Database, campaign_id: int, status: CampaignStatus) -> None:
    async with db.transaction() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        campaign.status = status.value


async def campaign_row(db: Database, campaign_id: int) -> Campaign:
    async with db.transaction(write=False) as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        return campaign


async def recipients(db: Database, campaign_id: int) -> list[CampaignRecipient]:
    async with db.transaction(write=False) as session:
        return list(await session.scalars(select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
                                          .order_by(CampaignRecipient.id)))


async def states(db: Database, campaign_id: int) -> Counter[str]:
    return Counter(r.state for r in await recipients(db, campaign_id))


def status_changer(database_url: str, campaign_id: int, status: CampaignStatus, at_message: int
                   ) -> Callable[[int], Awaitable[None]]:
    """A hook for the sink: when it has the `at_message`-th message, and before it answers it, the campaign's status
    is changed by another connection (as staff pressing pause or cancel would), committed."""

    async def change(received: int) -> None:
        if received != at_message:
            return
        db = Database(database_url)  # the sink's own event loop needs its own engine
        try:
            await set_status(db, campaign_id, status)
        finally:
            await db.dispose()

    return change


def html_of(message: EmailMessage) -> str:
    """The HTML part as a mail client shows it (line ends as `\n`, whatever the wire had)."""
    return message.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n")


def text_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")


async def age_claims(db: Database, campaign_id: int, seconds: float) -> None:
    """Make every claim and lease of the campaign look `seconds` old (a worker that vanished; a retry come due)."""
    past = utcnow() - timedelta(seconds=seconds)
    async with db.transaction() as session:
        await session.execute(update(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id,
                                                              CampaignRecipient.claimed_at.is_not(None))
                              .values(claimed_at=past))
        await session.execute(update(Campaign).where(Campaign.id == campaign_id, Campaign.sender_lease.is_not(None))
                              .values(sender_lease_at=past))


async def wait_until(predicate: Callable[[], Awaitable[bool]], seconds: float = 60) -> bool:
    """Polls (a bound, not a wait: it returns as soon as `predicate` holds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.1)
    return await predicate()
