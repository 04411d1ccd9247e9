"""Sending a campaign: its recipients fixed once when it starts (one row each), then batches in the job queue, each
claimed atomically and sent over pooled SMTP at NEWSLETTER_MESSAGES_PER_SECOND, with each person's consent checked
again just before their message; exactly once even if a worker dies mid-send (mailer.py: a row is committed `sent`
before the SMTP end-of-data, so one claimed but not `sent` was provably not delivered and is sent again).

The contract the authoring side (commands) relies on: `kick_campaign` after a campaign becomes `sending` (sent
now, or resumed); scheduled campaigns are started by the periodic task (jobs.py) when their `send_at` comes.

The outbox message `newsletters.campaign_due` drives it: its handler fixes the recipients in the message's own
transaction; its follow-up takes the campaign's sender lease, sends one batch, and writes the next message to itself
until nobody is left (`sent`), or stops between two messages once the campaign is paused or cancelled. One sender at
a time (the lease), so the rate holds however often the campaign is kicked."""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import functools
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email import policy
from email.utils import formatdate, parseaddr
from enum import StrEnum
from functools import cached_property
from html import escape
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import String, bindparam, cast, exists, func, literal, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from myhibachi.consent.commands import one_click_headers, preferences_url, unsubscribe_url
from myhibachi.consent.models import Topic
from myhibachi.consent.queries import marketing_audience, may_send_marketing_to
from myhibachi.core.db import Database, utcnow
from myhibachi.core.jobs import JobQueue, outbox_follow_up
from myhibachi.core.outbox import OutboxContext, OutboxMessage, add_outbox_message, outbox_handler
from myhibachi.newsletters.mailer import Delivery, Outgoing, Refused, Unreachable, delivery_pool
from myhibachi.newsletters.models import Campaign, CampaignRecipient, CampaignStatus, RecipientState, Segment
from myhibachi.newsletters.rendering import Brand, RenderedEmail, markdown_links, render_marketing_email
from myhibachi.newsletters.segments import SegmentRules, segment_audience
from myhibachi.newsletters.tracking import tracking_for
from myhibachi.pricing.queries import get_rules
from myhibachi.settings import Settings
from myhibachi.stations.models import Station

CAMPAIGN_DUE_TOPIC = "newsletters.campaign_due"
MAX_ATTEMPTS = 3  # temporary failures (4xx, a lost connection) before a recipient is given up as `failed`
GROUP_WAIT = 0.05  # seconds a group's commit waits at most for the messages still on their way
LEFT = (RecipientState.pending.value, RecipientState.sending.value)  # a recipient still to be sent
log = structlog.get_logger(__name__)


async def kick_campaign(session: AsyncSession, campaign_id: int, lease: str | None = None) -> None:
    """Once this unit of work commits, a job starts (or resumes) sending the campaign. `lease`: the sender's own,
    when it queues its next batch."""
    await add_outbox_message(session, CAMPAIGN_DUE_TOPIC, {"campaign_id": campaign_id}
                             | ({"lease": lease} if lease else {}))


@outbox_handler(CAMPAIGN_DUE_TOPIC)
async def _campaign_due(session: AsyncSession, payload: dict[str, Any], _: OutboxContext) -> None:
    await fix_recipients(session, int(payload["campaign_id"]))


@outbox_follow_up(CAMPAIGN_DUE_TOPIC)
async def _send_next_batch(jobs: JobQueue, payload: dict[str, Any]) -> None:
    await send_batch(jobs, int(payload["campaign_id"]), payload.get("lease"))


async def _locked_campaign(session: AsyncSession, campaign_id: int) -> Campaign | None:
    return await session.scalar(select(Campaign).where(Campaign.id == campaign_id).with_for_update()
                                .execution_options(populate_existing=True))


def station_today(station: Station) -> date:
    return utcnow().astimezone(ZoneInfo(station.timezone)).date()


async def fix_recipients(session: AsyncSession, campaign_id: int) -> int:
    """Once, when a campaign starts sending: one `pending` row per person of its segment whom marketing of news
    from its station may reach today (INSERT … SELECT; the unique (campaign, contact) makes a repeat a no-op).
    A campaign whose segment was deleted goes to nobody, never to everyone. The number of rows made."""
    campaign = await _locked_campaign(session, campaign_id)
    if campaign is None or campaign.status != CampaignStatus.sending or campaign.started_at is not None:
        return 0
    campaign.started_at = utcnow()
    segment = await session.get(Segment, campaign.segment_id) if campaign.segment_id else None
    if segment is None:
        log.warning("campaign_without_segment", campaign_id=campaign_id)
        return 0
    station = await session.get(Station, campaign.station_id)
    assert station is not None
    audience = segment_audience(campaign.station_id, SegmentRules(**segment.rules), station_today(station)).subquery()
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    # WHERE true: SQLite would read the ON of ON CONFLICT as a join's (its documented parsing ambiguity).
    rows = select(literal(campaign.id), audience.c.id, audience.c.email, literal(RecipientState.pending.value),
                  literal(0)).where(true())
    made = await session.execute(insert(CampaignRecipient).from_select(
        ["campaign_id", "contact_id", "email", "state", "attempts"], rows).on_conflict_do_nothing())
    return made.rowcount or 0  # type: ignore[attr-defined]


# --- starting and resuming (the periodic task) ---------------------------------------------------------------------


async def start_if_due(session: AsyncSession, campaign_id: int) -> bool:
    """A scheduled campaign whose time has come starts sending (re-checked under its lock)."""
    campaign = await _locked_campaign(session, campaign_id)
    if (campaign is None or campaign.status != CampaignStatus.scheduled or campaign.send_at is None
            or campaign.send_at > utcnow()):
        return False
    campaign.status = CampaignStatus.sending.value
    await kick_campaign(session, campaign_id)
    return True


def lease_stale_before(settings: Settings) -> datetime:
    return utcnow() - timedelta(seconds=settings.newsletter_claim_seconds)


def without_sender(settings: Settings) -> Any:
    """The SQL condition of a `sending` campaign nobody is sending now (never started, or its sender vanished)."""
    return (Campaign.status == CampaignStatus.sending.value) & or_(
        Campaign.sender_lease.is_(None), Campaign.sender_lease_at < lease_stale_before(settings))


async def resume_if_idle(session: AsyncSession, settings: Settings, campaign_id: int) -> bool:
    """A `sending` campaign without a live sender (its worker was killed, or its retries are due) is kicked again,
    unless a kick is already waiting in the outbox."""
    campaign = await _locked_campaign(session, campaign_id)
    if campaign is None or not await session.scalar(select(func.count()).select_from(Campaign).where(
            Campaign.id == campaign_id, without_sender(settings))):
        return False
    waiting = await session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.topic == CAMPAIGN_DUE_TOPIC, OutboxMessage.processed_at.is_(None),
        OutboxMessage.payload["campaign_id"].as_integer() == campaign_id))
    if waiting:
        return False
    await kick_campaign(session, campaign_id)
    return True


# --- one batch -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Claimed:
    """A recipient this batch holds (its row is `sending` under `claim`)."""

    id: int
    contact_id: int
    email: str
    attempts: int
    claim: str


# Stand-ins for one recipient's own links in a campaign rendered once per batch (rendering markdown and inlining CSS
# for each recipient would cost more than sending); random, so no campaign text can contain one.
_MARK = uuid4().hex[:12]
UNSUBSCRIBE_MARK, PREFERENCES_MARK, PIXEL_MARK = (f"mh{_MARK}{name}x" for name in ("unsubscribe", "preferences",
                                                                                    "pixel"))


def _link_mark(place: int) -> str:
    return f"mh{_MARK}link{place}x"  # the x ends it: link1x is not the start of link10x


@dataclass(frozen=True)
class Letter:
    """What every message of a campaign shares; `message_for` makes one recipient's."""

    campaign_id: int
    station_id: int
    subject: str
    body_markdown: str
    brand: Brand
    links: list[str]
    tracking: bool
    _mark_sent: Any = field(default=None, init=False, repr=False, compare=False)

    @cached_property
    def template(self) -> RenderedEmail:
        """The campaign rendered once, with marks where each recipient's links go."""
        def mark(href: str) -> str:
            return _link_mark(self.links.index(href)) if href in self.links else href

        return render_marketing_email(
            subject=self.subject, body_markdown=self.body_markdown, brand=self.brand,
            unsubscribe_url=UNSUBSCRIBE_MARK, preferences_url=PREFERENCES_MARK,
            rewrite_link=mark if self.tracking else None, open_pixel_url=PIXEL_MARK if self.tracking else None)

    @cached_property
    def mime(self) -> Mime:
        return Mime(self.template.subject)

    def mark_sent(self, settings: Settings) -> Any:
        """The UPDATE of `_verdicts`, built once per batch (building it for each group of messages cost more than
        running it); its parameters: the group's rows (`b_ids`), their `b_claim`, their contacts (`b_among`),
        `b_now`."""
        if self._mark_sent is None:
            head, tail = _message_id_around(settings, self.campaign_id)
            among = bindparam("b_among", expanding=True)
            object.__setattr__(self, "_mark_sent", update(CampaignRecipient).where(
                CampaignRecipient.id.in_(bindparam("b_ids", expanding=True)),
                CampaignRecipient.claim == bindparam("b_claim"),
                CampaignRecipient.state == RecipientState.sending.value,
                exists().where(Campaign.id == self.campaign_id, Campaign.status == CampaignStatus.sending.value),
                CampaignRecipient.contact_id.in_(marketing_audience(Topic.news, self.station_id, among=among)),
            ).values(state=RecipientState.sent.value, sent_at=bindparam("b_now"), error=None,
                     message_id=literal(head) + cast(CampaignRecipient.id, String) + literal(tail))
                .returning(CampaignRecipient.id)
                .execution_options(synchronize_session=False))
        return self._mark_sent

    def message_for(self, settings: Settings, recipient: Claimed) -> Outgoing:
        unsubscribe = unsubscribe_url(settings, recipient.contact_id, recipient.id)
        links = {UNSUBSCRIBE_MARK: unsubscribe, PREFERENCES_MARK: preferences_url(settings, recipient.contact_id)}
        if self.tracking:
            tracked = tracking_for(settings, recipient.id, self.links)
            links[PIXEL_MARK] = tracked.open_pixel_url
            links.update({_link_mark(place): tracked.rewrite_link(link) for place, link in enumerate(self.links)})
        html, text = self.template.html, self.template.text
        for mark, url in links.items():
            html, text = html.replace(mark, escape(url)), text.replace(mark, url)
        data = self.mime.message(settings.mail_from, recipient.email,
                                 campaign_message_id(settings, self.campaign_id, recipient.id),
                                 one_click_headers(unsubscribe), text, html)
        return Outgoing(self.mime.sender(settings.mail_from)[1], recipient.email, data)


def _folded(name: str, value: str) -> str:
    """A header as the email package writes it for SMTP (RFC 2047 words for non-ASCII, folded lines)."""
    return policy.SMTP.header_factory(name, value).fold(policy=policy.SMTP)


def _header(name: str, value: str) -> str:
    """A header written as it is when it is plain printable ASCII on one line (an address, a Message-ID, a URL in
    <…>: RFC 2369 wants List-Unsubscribe's URL as it is, not in RFC 2047 words), else as the email package folds it."""
    line = f"{name}: {value}\r\n"
    if value.isascii() and value.isprintable() and len(line) <= 998:
        return line
    return _folded(name, value)


class Mime:
    """One campaign's messages written straight to bytes: the same headers and multipart/alternative (text, then
    HTML, each UTF-8 quoted-printable, so 7-bit clean with lines under 78) that EmailMessage + flatten gave, at a
    fraction of the cost (the email package parsed and folded ~17 headers per message: half a batch's CPU). What all
    the campaign's messages share is encoded once."""

    def __init__(self, subject: str) -> None:
        self.subject = _folded("Subject", subject)
        self.boundary = f"=_{uuid4().hex}"  # "=_" never occurs in quoted-printable text
        part = 'Content-Type: text/{}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
        self.plain_head = f"--{self.boundary}\r\n{part.format('plain')}".encode()
        self.html_head = f"\r\n--{self.boundary}\r\n{part.format('html')}".encode()
        self.end = f"\r\n--{self.boundary}--\r\n".encode()
        self.senders: dict[str, tuple[str, str]] = {}

    def sender(self, mail_from: str) -> tuple[str, str]:
        """The From header and the envelope address of MAIL_FROM, worked out once."""
        if mail_from not in self.senders:
            self.senders[mail_from] = (_folded("From", mail_from), parseaddr(mail_from)[1])
        return self.senders[mail_from]

    def message(self, sender: str, to: str, message_id: str, headers: dict[str, str], text: str,
                html: str) -> bytes:
        head = "".join([self.sender(sender)[0], _header("To", to), self.subject, _header("Message-ID", message_id),
                        _header("Date", formatdate(usegmt=True)),
                        *(_header(name, value) for name, value in headers.items()),
                        "MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n",
                        f' boundary="{self.boundary}"\r\n\r\n'])
        return b"".join([head.encode(), self.plain_head, _quoted(text), self.html_head, _quoted(html), self.end])


def _quoted(text: str) -> bytes:
    """Quoted-printable with CRLF line ends (b2a_qp keeps those it is given)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return binascii.b2a_qp(text.replace("\n", "\r\n").encode(), istext=True)


def campaign_message_id(settings: Settings, campaign_id: int, recipient_id: int) -> str:
    """The same for every attempt of one recipient (bounce reports are matched on it; the file transport names
    its file by it)."""
    head, tail = _message_id_around(settings, campaign_id)
    return f"{head}{recipient_id}{tail}"


def _message_id_around(settings: Settings, campaign_id: int) -> tuple[str, str]:
    """What comes before and after the recipient's id in a campaign's Message-IDs."""
    return f"<campaign-{campaign_id}-", f"@{_mail_domain(settings.mail_from)}>"


@functools.lru_cache(maxsize=8)
def _mail_domain(mail_from: str) -> str:
    return parseaddr(mail_from)[1].rpartition("@")[2] or "myhibachi.local"


def batch_size(settings: Settings) -> int:
    """NEWSLETTER_BATCH_SIZE, or fewer when throttled: a batch must end well inside NEWSLETTER_CLAIM_SECONDS, or
    its claims and the lease would look abandoned while it still runs."""
    if settings.newsletter_messages_per_second <= 0:
        return settings.newsletter_batch_size
    within = int(settings.newsletter_messages_per_second * settings.newsletter_claim_seconds / 2)
    return max(1, min(settings.newsletter_batch_size, within))


async def _take_lease(session: AsyncSession, settings: Settings, campaign_id: int, lease: str) -> bool:
    """The campaign's sender becomes (or stays) `lease`, if it is sending and nobody else sends it now."""
    taken = await session.execute(update(Campaign).where(
        Campaign.id == campaign_id, Campaign.status == CampaignStatus.sending.value, Campaign.started_at.is_not(None),
        or_(Campaign.sender_lease.is_(None), Campaign.sender_lease == lease,
            Campaign.sender_lease_at < lease_stale_before(settings)),
    ).values(sender_lease=lease, sender_lease_at=utcnow(), updated_at=Campaign.updated_at))
    return taken.rowcount == 1  # type: ignore[attr-defined]


async def _claim(session: AsyncSession, settings: Settings, campaign_id: int) -> list[Claimed]:
    """The next recipients to send, in id order: pending ones, and those whose claim (or last failed attempt) is
    older than NEWSLETTER_CLAIM_SECONDS. On PostgreSQL rows another transaction is claiming are skipped. (Two
    statements: as one UPDATE … WHERE id IN (SELECT … LIMIT … FOR UPDATE SKIP LOCKED), PostgreSQL may rescan the
    subquery for each row, skip the rows it has just updated and so claim every row.)"""
    claim, now = uuid4().hex, utcnow()
    free = (CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.state.in_(LEFT),
            or_(CampaignRecipient.claimed_at.is_(None), CampaignRecipient.claimed_at < lease_stale_before(settings)))
    pick = select(CampaignRecipient.id).where(*free).order_by(CampaignRecipient.id).limit(batch_size(settings))
    if session.bind.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    ids = list(await session.scalars(pick))
    if not ids:
        return []
    rows = await session.execute(
        update(CampaignRecipient).where(CampaignRecipient.id.in_(ids), *free)
        .values(state=RecipientState.sending.value, claim=claim, claimed_at=now)
        .returning(CampaignRecipient.id, CampaignRecipient.contact_id, CampaignRecipient.email,
                   CampaignRecipient.attempts)
        .execution_options(synchronize_session=False))
    return sorted(Claimed(row.id, row.contact_id, row.email, row.attempts, claim) for row in rows)


async def _letter(session: AsyncSession, settings: Settings, campaign_id: int) -> Letter:
    campaign = await session.get(Campaign, campaign_id)
    assert campaign is not None
    station = await session.get(Station, campaign.station_id)
    assert station is not None
    address = f"{station.address_line1}, {station.city}, {station.state} {station.zip_code}"
    return Letter(campaign.id, station.id, campaign.subject, campaign.body_markdown,
                  Brand.of(settings, station.name, address), markdown_links(campaign.body_markdown),
                  (await get_rules(session, station.id)).email_tracking)


class Throttle:
    """At most `per_second` messages a second across a batch's connections: message k goes no earlier than the
    first one's time + k / per_second (0: no limit)."""

    clock = staticmethod(time.monotonic)
    sleep = staticmethod(asyncio.sleep)

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self.next_at: float | None = None

    async def wait(self) -> None:
        if self.per_second <= 0:
            return
        now = self.clock()
        at = now if self.next_at is None else max(now, self.next_at)
        self.next_at = at + 1 / self.per_second
        if at > now:
            await self.sleep(at - now)


async def send_batch(jobs: JobQueue, campaign_id: int, lease: str | None = None) -> int:
    """One batch of the campaign by the sender `lease` (a new sender without one), then the next batch queued, or
    the campaign finished, or the lease given up (paused, cancelled, only retries left). The number of recipients
    this batch held."""
    lease = lease or uuid4().hex
    async with jobs.db.transaction() as session:
        if not await _take_lease(session, jobs.settings, campaign_id, lease):
            return 0
        claimed = await _claim(session, jobs.settings, campaign_id)
        letter = await _letter(session, jobs.settings, campaign_id) if claimed else None
        batch = await _without_unreachable(session, letter, claimed) if letter else []
    throttle = Throttle(jobs.settings.newsletter_messages_per_second)
    if letter is not None and batch:
        await _send_all(jobs, letter, batch, throttle)
    if len(claimed) == batch_size(jobs.settings):  # more may follow: the next batch's first message keeps the pace
        await throttle.wait()
    await _after_batch(jobs, campaign_id, lease, held=len(claimed))
    return len(claimed)


async def _without_unreachable(session: AsyncSession, letter: Letter, claimed: list[Claimed]) -> list[Claimed]:
    """Who of the batch marketing may still reach (one query for the batch); the others — withdrawn, suppressed or
    opted out since the recipients were fixed — are `skipped`. Each is checked once more just before their end of
    data (`_verdicts`)."""
    reachable = set(await session.scalars(marketing_audience(Topic.news, letter.station_id,
                                                             among=[r.contact_id for r in claimed])))
    for recipient in claimed:
        if recipient.contact_id not in reachable:
            await session.execute(update(CampaignRecipient).where(
                CampaignRecipient.id == recipient.id, CampaignRecipient.claim == recipient.claim,
            ).values(state=RecipientState.skipped.value))
    return [r for r in claimed if r.contact_id in reachable]


async def _send_all(jobs: JobQueue, letter: Letter, batch: list[Claimed], throttle: Throttle) -> None:
    """The batch over the connection pool, each connection taking the next recipient; when the campaign stops
    being `sending`, the recipients not yet sent are handed back (pending) for a resume."""
    queue = deque(batch)
    stopped = asyncio.Event()

    async def work(delivery: Delivery) -> None:
        try:
            while queue and not stopped.is_set():
                recipient = queue.popleft()
                await throttle.wait()
                if not await _send_one(jobs, letter, delivery, recipient, commits):
                    queue.appendleft(recipient)
                    stopped.set()
        finally:
            await delivery.close()

    pool = delivery_pool(jobs.context.mail, jobs.settings.newsletter_smtp_connections)[:len(batch)]
    async with jobs.db.autocommit() as connection, asyncio.TaskGroup() as connections:
        commits = GroupCommit(jobs.db, connection, jobs.settings, letter)
        for delivery in pool:  # one failing stops the others (their claims go stale)
            connections.create_task(work(delivery))
    if queue:
        await _hand_back(jobs.db, list(queue))


class Verdict(StrEnum):
    """What is decided about a message while the server holds all of it and waits for its end-of-data."""

    send = "send"  # committed `sent`: the end-of-data may go
    stopped = "stopped"  # the campaign was paused or cancelled: not sent, handed back
    skipped = "skipped"  # the person may not get it any more (recorded)
    taken = "taken"  # another worker holds the row now (this one looked dead): theirs to send


async def _send_one(jobs: JobQueue, letter: Letter, delivery: Delivery, recipient: Claimed,
                    commits: GroupCommit) -> bool:
    """One recipient. False if the campaign is no longer `sending` (their message was not sent)."""
    try:
        message = letter.message_for(jobs.settings, recipient)
    except Exception as broken:  # one unrenderable message must not stop the campaign
        log.error("newsletter_render_failed", recipient_id=recipient.id, exc_info=broken)
        await _settle(jobs.db, recipient, RecipientState.failed, f"could not render: {broken}")
        return True
    verdicts: list[Verdict] = []
    asked = False

    async def commit() -> bool:
        nonlocal asked
        asked = True
        verdicts.append(await commits.verdict(recipient))
        return verdicts[-1] is Verdict.send

    commits.started()
    try:
        try:
            await delivery.deliver(message, commit)
        finally:
            if not asked:  # failed before its body was written: the group does not wait for it
                commits.abandoned()
    except Refused as refusal:
        if refusal.permanent:
            await _settle(jobs.db, recipient, RecipientState.failed, str(refusal), sent_at=None)
        else:
            await _try_again(jobs.db, recipient, str(refusal))
    except Unreachable as failure:
        await _try_again(jobs.db, recipient, str(failure))
    return Verdict.stopped not in verdicts


class GroupCommit:
    """The verdicts of the messages whose bodies the server holds at the same moment (one per connection of the
    pool), decided and committed in one transaction: fewer commits on a busy database. A group is committed once
    every message on its way (`started`, verdict not yet asked, not `abandoned`) has joined it — or GROUP_WAIT after
    its first joined, so one slow connection does not hold up the rest; those who come during a commit wait for it
    to end. So every message's end-of-data follows its own commit with no I/O between."""

    def __init__(self, db: Database, connection: AsyncConnection, settings: Settings, letter: Letter) -> None:
        self.db, self.connection, self.settings, self.letter = db, connection, settings, letter
        self.waiting: list[tuple[Claimed, asyncio.Future[Verdict]]] = []
        self.on_the_way = 0
        self.committing = False
        self.since: float | None = None  # when the first of the waiting group joined
        self.woken = asyncio.Event()

    def started(self) -> None:
        self.on_the_way += 1

    def abandoned(self) -> None:
        """A started message that will not ask for its verdict (its delivery failed first)."""
        self.on_the_way -= 1
        self._wake()

    def _wake(self) -> None:
        self.woken.set()
        self.woken = asyncio.Event()

    async def verdict(self, recipient: Claimed) -> Verdict:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Verdict] = loop.create_future()
        self.waiting.append((recipient, future))
        self.since = self.since or loop.time()
        self.abandoned()  # no longer on its way: it waits
        while not future.done():
            woken = self.woken
            if self.committing or (self.on_the_way and loop.time() < self.since + GROUP_WAIT):
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(None if self.committing else self.since + GROUP_WAIT):
                        await woken.wait()
                continue
            group, self.waiting, self.since, self.committing = self.waiting, [], None, True
            try:
                await self._commit(group)
            except BaseException:
                if not future.cancelled():
                    future.exception()  # its failure is the one raised here: retrieved, not reported twice
                raise
            finally:
                self.committing = False
                self._wake()
        return future.result()

    async def _commit(self, group: list[tuple[Claimed, asyncio.Future[Verdict]]]) -> None:
        try:
            verdicts = await _verdicts(self.db, self.connection, self.settings, self.letter,
                                       [recipient for recipient, _ in group])
        except BaseException as failed:  # nobody of the group is `sent`: each connection drops its message
            for _, future in group:
                if isinstance(failed, Exception):
                    future.set_exception(failed)
                else:
                    future.cancel()
            raise
        for recipient, future in group:
            future.set_result(verdicts[recipient.id])


async def _verdicts(db: Database, connection: AsyncConnection, settings: Settings, letter: Letter,
                    group: list[Claimed]) -> dict[int, Verdict]:
    """Decided and committed at the last moment, before the SMTP end-of-data: `sent` for each recipient whose row
    is still this batch's claim while the campaign is still `sending` and who may still get it (consent,
    suppressions, opt-outs as they are now) — one UPDATE on the batch's `Database.autocommit` connection, committed
    on its own (one round trip), when all is well; the reasons looked up only when not."""
    sent = set(await connection.scalars(letter.mark_sent(settings), {
        "b_ids": [r.id for r in group], "b_claim": group[0].claim, "b_among": [r.contact_id for r in group],
        "b_now": utcnow()}))
    verdicts = {r.id: Verdict.send for r in group if r.id in sent}
    if len(verdicts) < len(group):
        async with db.transaction() as session:
            for recipient in (r for r in group if r.id not in sent):
                verdicts[recipient.id] = await _why_not(session, letter, recipient)
    return verdicts


async def _why_not(session: AsyncSession, letter: Letter, recipient: Claimed) -> Verdict:
    if await session.scalar(select(Campaign.status).where(Campaign.id == letter.campaign_id)) \
            != CampaignStatus.sending:
        return Verdict.stopped
    if not await may_send_marketing_to(session, recipient.contact_id, Topic.news, letter.station_id):
        await session.execute(update(CampaignRecipient).where(
            CampaignRecipient.id == recipient.id, CampaignRecipient.claim == recipient.claim,
            CampaignRecipient.state == RecipientState.sending.value).values(state=RecipientState.skipped.value))
        return Verdict.skipped
    return Verdict.taken


async def _settle(db: Database, recipient: Claimed, state: RecipientState, error: str | None = None,
                  **values: Any) -> None:
    """The outcome of this batch's attempt, on the row it still holds (`sending`, or `sent` if the server refused
    the message in answer to the end-of-data)."""
    async with db.transaction() as session:
        await session.execute(update(CampaignRecipient).where(
            CampaignRecipient.id == recipient.id, CampaignRecipient.claim == recipient.claim,
        ).values(state=state.value, error=error[:2000] if error else None, **values))


async def _try_again(db: Database, recipient: Claimed, error: str) -> None:
    """A temporary failure: pending again, offered after NEWSLETTER_CLAIM_SECONDS (its claim time stays), or
    `failed` after MAX_ATTEMPTS."""
    attempts = recipient.attempts + 1
    state = RecipientState.failed if attempts >= MAX_ATTEMPTS else RecipientState.pending
    await _settle(db, recipient, state, error, attempts=attempts, claim=None, sent_at=None, message_id=None)


async def _hand_back(db: Database, recipients: list[Claimed]) -> None:
    """Claimed but not tried (the campaign was paused or cancelled): pending, free at once."""
    async with db.transaction() as session:
        for recipient in recipients:
            await session.execute(update(CampaignRecipient).where(
                CampaignRecipient.id == recipient.id, CampaignRecipient.claim == recipient.claim,
                CampaignRecipient.state == RecipientState.sending.value,
            ).values(state=RecipientState.pending.value, claim=None, claimed_at=None))


async def _after_batch(jobs: JobQueue, campaign_id: int, lease: str, *, held: int) -> None:
    """Under the campaign's lock: finished (nobody left: `sent`), the next batch queued, or the lease given up
    (paused or cancelled; or nothing could be claimed — only retries not yet due — which the periodic task takes
    up when they are). A sender whose lease was taken (it looked dead) just stops."""
    async with jobs.unit_of_work() as session:
        campaign = await _locked_campaign(session, campaign_id)
        if campaign is None or campaign.sender_lease != lease:
            return
        left = await session.scalar(select(func.count()).select_from(CampaignRecipient).where(
            CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.state.in_(LEFT)))
        if campaign.status == CampaignStatus.sending and not left:
            campaign.status, campaign.finished_at = CampaignStatus.sent.value, utcnow()
        if campaign.status == CampaignStatus.sending and held:
            campaign.sender_lease_at = utcnow()
            await kick_campaign(session, campaign_id, lease)
        else:
            campaign.sender_lease = campaign.sender_lease_at = None
