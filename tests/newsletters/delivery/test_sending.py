"""Sending a campaign to a real SMTP server (aiosmtpd): each recipient exactly once, in batches over pooled
connections; pause, resume and cancel between messages; consent re-checked just before each message; refusals and
temporary failures; the throttle; scheduled campaigns; the .eml files of the embedded default."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from myhibachi.consent.commands import record_consent
from myhibachi.consent.models import ConsentAction, ConsentSource, OptOut, Suppression, SuppressionReason
from myhibachi.contacts.commands import Identity, find_or_create_contact
from myhibachi.contacts.models import ContactTag
from myhibachi.core.db import Database, utcnow
from myhibachi.newsletters import sending
from myhibachi.newsletters.models import CampaignRecipient, CampaignStatus, RecipientState
from myhibachi.newsletters.sending import Throttle, batch_size, fix_recipients
from tests.conftest import read_mails
from tests.newsletters.delivery.conftest import (
    age_claims,
    campaign_row,
    html_of,
    kick,
    make_campaign,
    recipients,
    states,
    status_changer,
    subscribers,
    text_of,
)


async def test_a_campaign_reaches_each_recipient_exactly_once(runtime, db, station, sink, settings):
    people = await subscribers(db, station, 9)
    campaign_id = await make_campaign(db, station)

    await kick(runtime, campaign_id)

    expected = {f"fan{n}@example.com" for n in range(9)}
    assert sink.received_by() == {address: 1 for address in expected}
    rows = await recipients(db, campaign_id)
    assert {r.contact_id for r in rows} == set(people)
    assert {r.state for r in rows} == {RecipientState.sent}
    by_address = {str(m["To"]): m for m in sink.messages}
    for row in rows:  # the stored Message-ID is the one the server got (bounce reports are matched on it)
        message = by_address[row.email]
        assert message["Message-ID"] == row.message_id == f"<campaign-{campaign_id}-{row.id}@myhibachi.local>"
        assert message["List-Unsubscribe"].startswith("<http://testserver/unsubscribe/")
        assert message["List-Unsubscribe"].endswith(f"?r={row.id}>")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "Station FRE" in html_of(message) and "1 Main St, Fremont, CA 94538" in text_of(message)
        assert "http://testserver/preferences/" in text_of(message)
    campaign = await campaign_row(db, campaign_id)
    assert campaign.status == CampaignStatus.sent and campaign.finished_at and campaign.started_at
    assert campaign.sender_lease is None

    await kick(runtime, campaign_id)  # a late or repeated kick: the recipients are fixed, nobody is left
    assert len(sink.messages) == 9 and len(await recipients(db, campaign_id)) == 9


async def test_a_batch_claims_the_next_batch_size_recipients_in_order(db, station, settings):
    await subscribers(db, station, 10)
    campaign_id = await make_campaign(db, station)
    async with db.transaction() as session:
        await fix_recipients(session, campaign_id)
    ids = sorted(r.id for r in await recipients(db, campaign_id))

    claims = []
    for _ in range(4):
        async with db.transaction() as session:
            claims.append(await sending._claim(session, settings, campaign_id))

    assert [[c.id for c in claim] for claim in claims] == [ids[:4], ids[4:8], ids[8:], []]  # batch size 4
    assert len({c.claim for c in claims[0]}) == 1 and claims[0][0].claim != claims[1][0].claim
    assert await states(db, campaign_id) == {RecipientState.sending: 10}


async def test_the_messages_on_their_way_share_one_commit(runtime, db, station, sink, monkeypatch):
    """Group commit: each commit marks the message of every connection (2 here) once both are written."""
    await subscribers(db, station, 8)
    campaign_id = await make_campaign(db, station)
    monkeypatch.setattr(sending, "GROUP_WAIT", 30.0)  # waits for the other connection however slow the machine
    groups = []
    real_verdicts = sending._verdicts

    async def counted(db_, connection, settings_, letter, group):  # noqa: ANN001, ANN202
        groups.append(len(group))
        return await real_verdicts(db_, connection, settings_, letter, group)

    monkeypatch.setattr(sending, "_verdicts", counted)

    await kick(runtime, campaign_id)

    assert groups == [2, 2, 2, 2]  # batches of 4 over 2 connections
    assert sink.received_by() == {f"fan{n}@example.com": 1 for n in range(8)}


async def test_only_the_segments_reachable_people_are_recipients(runtime, db, station, sink):
    await subscribers(db, station, 3)  # reachable, but not in the segment
    tagged = await subscribers(db, station, 2, prefix="vip")
    async with db.transaction() as session:
        unconfirmed = await find_or_create_contact(session, Identity(email="maybe@example.com"), name="")
        await record_consent(session, unconfirmed.id, ConsentAction.granted, ConsentSource.footer_form,
                             station_id=station.id)
        for contact_id in [*tagged, unconfirmed.id]:
            session.add(ContactTag(contact_id=contact_id, tag="vip"))
    campaign_id = await make_campaign(db, station, rules={"tags": ["vip"]})

    await kick(runtime, campaign_id)

    assert sink.received_by() == {"vip0@example.com": 1, "vip1@example.com": 1}
    assert len(await recipients(db, campaign_id)) == 2


class TestOneConnection:
    """One connection: the message at which staff pause or cancel is the last one started."""

    @pytest.fixture
    def settings(self, settings):  # noqa: ANN001, ANN201
        return settings.model_copy(update={"newsletter_smtp_connections": 1})

    async def test_pause_stops_between_messages_and_resume_finishes(self, runtime, db, station, sink, settings):
        await subscribers(db, station, 7)
        campaign_id = await make_campaign(db, station)
        sink.before_reply = status_changer(settings.database_url, campaign_id, CampaignStatus.paused, at_message=3)

        await kick(runtime, campaign_id)

        assert len(sink.messages) == 3  # the pause came with the 3rd message: no 4th was started
        assert (await campaign_row(db, campaign_id)).status == CampaignStatus.paused
        assert await states(db, campaign_id) == {RecipientState.sent: 3, RecipientState.pending: 4}
        rows = await recipients(db, campaign_id)
        assert all(r.claim is None and r.claimed_at is None for r in rows if r.state == RecipientState.pending)
        assert (await campaign_row(db, campaign_id)).sender_lease is None
        assert (await runtime.jobs.run_periodic_tasks())["newsletters.send_campaigns"] == 0  # it stays paused

        sink.before_reply = None
        async with db.transaction() as session:  # what the resume command does
            campaign = await session.get(sending.Campaign, campaign_id)
            campaign.status = CampaignStatus.sending.value
        await kick(runtime, campaign_id)

        assert sink.received_by() == {f"fan{n}@example.com": 1 for n in range(7)}
        assert (await campaign_row(db, campaign_id)).status == CampaignStatus.sent


    async def test_cancel_stops_and_nothing_resumes_it(self, runtime, db, station, sink, settings):
        await subscribers(db, station, 6)
        campaign_id = await make_campaign(db, station)
        sink.before_reply = status_changer(settings.database_url, campaign_id, CampaignStatus.cancelled, at_message=2)

        await kick(runtime, campaign_id)
        await kick(runtime, campaign_id)
        await age_claims(db, campaign_id, 3600)
        await runtime.jobs.run_periodic_tasks()

        assert len(sink.messages) == 2
        assert (await campaign_row(db, campaign_id)).status == CampaignStatus.cancelled
        assert await states(db, campaign_id) == {RecipientState.sent: 2, RecipientState.pending: 4}


    async def test_who_leaves_while_the_batch_is_sent_is_skipped_at_the_last_moment(self, runtime, db, station,
                                                                                   sink, settings):
        """Checked again while the server holds their whole message: not sent, the server discards it."""
        people = await subscribers(db, station, 4)
        campaign_id = await make_campaign(db, station)

        async def fan2_unsubscribes(received: int) -> None:
            if received == 1:
                other = Database(settings.database_url)
                try:
                    async with other.transaction() as session:
                        await record_consent(session, people[2], ConsentAction.withdrawn, ConsentSource.unsubscribe)
                finally:
                    await other.dispose()

        sink.before_reply = fan2_unsubscribes
        await kick(runtime, campaign_id)

        assert sink.received_by() == {"fan0@example.com": 1, "fan1@example.com": 1, "fan3@example.com": 1}
        by_contact = {r.contact_id: r.state for r in await recipients(db, campaign_id)}
        assert by_contact[people[2]] == RecipientState.skipped
        assert (await campaign_row(db, campaign_id)).status == CampaignStatus.sent


async def test_people_who_left_after_the_recipients_were_fixed_are_skipped(runtime, db, station, sink):
    people = await subscribers(db, station, 5)
    campaign_id = await make_campaign(db, station)
    async with db.transaction() as session:
        assert await fix_recipients(session, campaign_id) == 5
    async with db.transaction() as session:  # after fixing, before sending
        await record_consent(session, people[0], ConsentAction.withdrawn, ConsentSource.unsubscribe)
        session.add(Suppression(email="fan1@example.com", reason=SuppressionReason.hard_bounce.value,
                                source="test"))
        session.add(OptOut(contact_id=people[2], scope="station", value=str(station.id)))

    await kick(runtime, campaign_id)

    assert sink.received_by() == {"fan3@example.com": 1, "fan4@example.com": 1}
    by_contact = {r.contact_id: r.state for r in await recipients(db, campaign_id)}
    assert [by_contact[p] for p in people] == ["skipped", "skipped", "skipped", "sent", "sent"]
    assert (await campaign_row(db, campaign_id)).status == CampaignStatus.sent


async def test_a_refused_recipient_is_failed_with_the_servers_words(runtime, db, station, sink):
    await subscribers(db, station, 4)
    sink.rcpt_replies["fan1@example.com"] = ["550 5.1.1 No such mailbox"]
    sink.data_replies["fan2@example.com"] = ["554 5.7.1 Message rejected as spam"]  # refused after the dot
    campaign_id = await make_campaign(db, station)

    await kick(runtime, campaign_id)

    assert sink.received_by() == {"fan0@example.com": 1, "fan3@example.com": 1}
    rows = {r.email: r for r in await recipients(db, campaign_id)}
    assert rows["fan1@example.com"].state == RecipientState.failed
    assert "550" in rows["fan1@example.com"].error and "No such mailbox" in rows["fan1@example.com"].error
    assert rows["fan2@example.com"].state == RecipientState.failed and "554" in rows["fan2@example.com"].error
    assert rows["fan2@example.com"].sent_at is None
    assert (await campaign_row(db, campaign_id)).status == CampaignStatus.sent  # nobody is left to send


async def test_a_temporary_failure_is_tried_again_later_then_given_up(runtime, db, station, sink):
    await subscribers(db, station, 3)
    sink.rcpt_replies["fan0@example.com"] = ["451 4.7.1 Greylisted, try again", "250 OK"]
    sink.rcpt_replies["fan1@example.com"] = ["452 4.2.2 Mailbox full"]  # every time
    campaign_id = await make_campaign(db, station)

    await kick(runtime, campaign_id)

    assert sink.received_by() == {"fan2@example.com": 1}
    rows = {r.email: r for r in await recipients(db, campaign_id)}
    assert (rows["fan0@example.com"].state, rows["fan0@example.com"].attempts) == (RecipientState.pending, 1)
    campaign = await campaign_row(db, campaign_id)
    assert campaign.status == CampaignStatus.sending and campaign.sender_lease is None  # the retries wait
    assert (await runtime.jobs.run_periodic_tasks())["newsletters.send_campaigns"] == 1  # kicked: not due yet
    assert sink.received_by() == {"fan2@example.com": 1}

    for _ in range(sending.MAX_ATTEMPTS):  # each retry comes due after NEWSLETTER_CLAIM_SECONDS
        await age_claims(db, campaign_id, 3600)
        await runtime.jobs.run_periodic_tasks()

    assert sink.received_by() == {"fan0@example.com": 1, "fan2@example.com": 1}
    rows = {r.email: r for r in await recipients(db, campaign_id)}
    assert (rows["fan1@example.com"].state, rows["fan1@example.com"].attempts) == (RecipientState.failed, 3)
    assert "452" in rows["fan1@example.com"].error
    assert (await campaign_row(db, campaign_id)).status == CampaignStatus.sent


async def test_a_message_whose_sent_mark_failed_is_discarded_by_the_server_and_sent_again(
        runtime, db, station, sink, monkeypatch):
    """The crash window of exactly-once: the server has the whole message, the commit of `sent` fails (as it would
    with the process killed there): no end-of-data was written, so the server discards it; later it goes once."""
    await subscribers(db, station, 3)
    campaign_id = await make_campaign(db, station)
    real_verdicts = sending._verdicts
    failures = []

    async def crash_for_fan1(db_, connection, settings_, letter, group):  # noqa: ANN001, ANN202
        if any(r.email == "fan1@example.com" for r in group) and not failures:
            failures.append(group)
            raise ConnectionError("the database went away")
        return await real_verdicts(db_, connection, settings_, letter, group)

    monkeypatch.setattr(sending, "_verdicts", crash_for_fan1)

    await kick(runtime, campaign_id)

    assert failures and "fan1@example.com" not in sink.received_by()  # its DATA never ended: discarded
    rows = {r.email: r for r in await recipients(db, campaign_id)}
    assert rows["fan1@example.com"].state == RecipientState.sending  # claimed, provably not delivered
    await age_claims(db, campaign_id, 3600)  # that sender is gone; its claim and lease lapse
    await runtime.jobs.run_periodic_tasks()

    assert sink.received_by() == {f"fan{n}@example.com": 1 for n in range(3)}
    assert (await campaign_row(db, campaign_id)).status == CampaignStatus.sent


async def test_a_claim_taken_by_another_worker_is_not_sent_twice(runtime, db, station, sink, monkeypatch):
    """A worker that was thought dead (its claim lapsed and was taken) finds out at its commit, before the dot."""
    await subscribers(db, station, 2)
    campaign_id = await make_campaign(db, station)
    real_verdicts = sending._verdicts

    async def taken_meanwhile(db_, settings_, letter, group):  # noqa: ANN001, ANN202
        async with db_.transaction() as session:
            for recipient in group:
                row = await session.get(CampaignRecipient, recipient.id)
                row.claim = "another-worker"
        return await real_verdicts(db_, settings_, letter, group)

    monkeypatch.setattr(sending, "_verdicts", taken_meanwhile)
    await kick(runtime, campaign_id)

    assert sink.messages == []
    assert await states(db, campaign_id) == {RecipientState.sending: 2}


def test_the_throttle_spaces_messages_by_the_rate(monkeypatch):
    clock = [100.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))
        clock[0] += seconds

    monkeypatch.setattr(Throttle, "clock", staticmethod(lambda: clock[0]))
    monkeypatch.setattr(Throttle, "sleep", staticmethod(sleep))
    async def five(rate: float) -> None:
        throttle = Throttle(rate)
        for _ in range(5):
            await throttle.wait()

    asyncio.run(five(4))
    assert waits == [0.25, 0.25, 0.25, 0.25] and clock[0] == 101.0
    waits.clear()
    asyncio.run(five(0))  # 0: as fast as the server takes them
    assert waits == []


class TestThrottled:
    @pytest.fixture
    def settings(self, settings):  # noqa: ANN001, ANN201
        return settings.model_copy(update={"newsletter_messages_per_second": 1.0, "newsletter_claim_seconds": 5})

    async def test_the_campaign_honours_the_rate_setting(self, runtime, db, station, sink, settings, monkeypatch):
        clock = [0.0]
        waits: list[float] = []

        async def sleep(seconds: float) -> None:  # time that passes without the test waiting for it
            waits.append(seconds)
            clock[0] += seconds

        monkeypatch.setattr(Throttle, "clock", staticmethod(lambda: clock[0]))
        monkeypatch.setattr(Throttle, "sleep", staticmethod(sleep))
        await subscribers(db, station, 5)
        campaign_id = await make_campaign(db, station)

        await kick(runtime, campaign_id)

        assert batch_size(settings) == 2  # 1 a second × half the claim time: batches end well before claims lapse
        assert len(sink.messages) == 5
        # Every message after the first waited its turn, 1 s at 1 a second, across the batches (2, 2, 1) too.
        assert waits == [1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(("rate", "claim_seconds", "size"), [(0, 60, 4), (20, 300, 4), (1, 5, 2), (0.1, 5, 1)])
def test_batches_end_well_inside_the_claim_time(settings, rate, claim_seconds, size):
    assert batch_size(settings.model_copy(update={"newsletter_messages_per_second": rate,
                                                  "newsletter_claim_seconds": claim_seconds})) == size


async def test_a_scheduled_campaign_starts_when_its_time_comes(runtime, db, station, sink):
    await subscribers(db, station, 2)
    later = await make_campaign(db, station, status=CampaignStatus.scheduled, send_at=utcnow() + timedelta(hours=1))
    due = await make_campaign(db, station, status=CampaignStatus.scheduled, send_at=utcnow() - timedelta(minutes=1))

    done = await runtime.jobs.run_periodic_tasks()

    assert done["newsletters.send_campaigns"] == 1
    assert (await campaign_row(db, due)).status == CampaignStatus.sent
    assert (await campaign_row(db, later)).status == CampaignStatus.scheduled and await recipients(db, later) == []
    assert sink.received_by() == {"fan0@example.com": 1, "fan1@example.com": 1}


async def test_a_campaign_whose_segment_was_deleted_goes_to_nobody(runtime, db, station, sink):
    await subscribers(db, station, 2)
    campaign_id = await make_campaign(db, station)
    async with db.transaction() as session:
        campaign = await session.get(sending.Campaign, campaign_id)
        campaign.segment_id = None

    await kick(runtime, campaign_id)

    assert sink.messages == [] and (await campaign_row(db, campaign_id)).status == CampaignStatus.sent


class TestWithoutSmtp:
    """SMTP_URL unset (the embedded default): each message is an .eml file named by its Message-ID."""

    @pytest.fixture
    def settings(self, settings):  # noqa: ANN001, ANN201
        return settings.model_copy(update={"smtp_url": None})

    async def test_each_recipient_is_one_file(self, runtime, db, station, settings):
        await subscribers(db, station, 5)
        campaign_id = await make_campaign(db, station)

        await kick(runtime, campaign_id)

        mails = read_mails(settings)
        assert sorted(str(m["To"]) for m in mails) == [f"fan{n}@example.com" for n in range(5)]
        names = sorted(path.name for path in settings.mail_dir.glob("*.eml"))
        assert names == sorted(f"campaign-{campaign_id}-{r.id}_myhibachi.local.eml"
                               for r in await recipients(db, campaign_id))
        assert (await campaign_row(db, campaign_id)).status == CampaignStatus.sent
