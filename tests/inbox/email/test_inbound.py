"""Inbound email (SPEC §7): a raw message posted with the bearer secret is stored once in its sender's thread, a
reply joins the thread it answers (In-Reply-To, or References alone), the quoted history is trimmed, the HTML made
safe; bad input stores nothing, and delivery reports still go to the bounce path."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select

from myhibachi.contacts.models import Contact
from myhibachi.inbox.commands import Inbound, receive
from myhibachi.inbox.models import Channel
from myhibachi.leads.models import Lead
from myhibachi.newsletters.models import BounceEvent
from tests.inbox.email.conftest import conversations, inbound_headers, messages, raw_email
from tests.newsletters.test_bounces import dsn


async def test_a_new_sender_becomes_a_contact_a_lead_and_an_email_thread(post_email, db, station):
    response = await post_email(raw_email())

    assert response.status_code == 201, response.text
    assert response.json()["stored"] == 1 and response.json()["report"] is None
    [conversation] = await conversations(db)
    assert response.json()["conversation_id"] == conversation.id
    assert (conversation.station_id, conversation.channel, conversation.subject, conversation.unread) == \
        (station.id, "email", "Party in May?", 1)
    [message] = await messages(db)
    assert response.json()["message_id"] == message.id
    assert (message.direction, message.sender, message.provider_message_id, message.body) == \
        ("in", "contact", "<m1@mail.example.com>", "Do you cater for 20 people on May 8?")
    assert message.at == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    async with db.transaction(write=False) as session:
        contact = await session.get_one(Contact, conversation.contact_id)
        leads = list(await session.scalars(select(Lead)))
    assert (contact.name, contact.email) == ("Dana Reyes", "dana@example.com")
    assert [(lead.contact_id, lead.source, lead.station_id) for lead in leads] == \
        [(contact.id, "inbox", station.id)]


async def two_threads(db, make_station, station) -> tuple[int, int]:  # noqa: ANN001
    """Dana's older thread at OAK (our first message there: <first@oak>) and a newer one at FRE."""
    oak = await make_station("OAK")
    async with db.transaction() as session:
        older = await receive(session, Inbound(
            channel=Channel.email, provider_message_id="<first@oak>", body="A party in Oakland?",
            email="dana@example.com", station_id=oak.id, subject="Oakland", at=datetime(2026, 11, 1, tzinfo=UTC)))
        newer = await receive(session, Inbound(
            channel=Channel.email, provider_message_id="<first@fre>", body="And one in Fremont?",
            email="dana@example.com", station_id=station.id, subject="Fremont"))
    assert older is not None and newer is not None
    return older.conversation.id, newer.conversation.id


async def test_a_reply_joins_the_thread_its_in_reply_to_names_not_the_senders_latest(
        post_email, db, make_station, station):
    oakland, fremont = await two_threads(db, make_station, station)

    reply = await post_email(raw_email("Yes, 30 guests.", message_id="<r1@mail.example.com>",
                                       in_reply_to="<first@oak>", subject="Re: Oakland"))
    fresh = await post_email(raw_email("Another question", message_id="<r2@mail.example.com>"))

    assert reply.status_code == 201 and reply.json()["conversation_id"] == oakland
    assert fresh.status_code == 201 and fresh.json()["conversation_id"] == fremont  # no threading headers: latest
    [stored] = [m for m in await messages(db, oakland) if m.provider_message_id == "<r1@mail.example.com>"]
    assert (stored.in_reply_to, stored.body) == ("<first@oak>", "Yes, 30 guests.")


async def test_references_alone_thread_a_reply_by_the_newest_id_we_know(post_email, db, make_station, station):
    oakland, _ = await two_threads(db, make_station, station)

    response = await post_email(raw_email("Still on?", message_id="<r3@mail.example.com>", subject="Re: Oakland",
                                          references="<unknown@elsewhere> <first@oak> <gone@mail.example.com>"))

    assert response.status_code == 201 and response.json()["conversation_id"] == oakland
    [stored] = [m for m in await messages(db, oakland) if m.provider_message_id == "<r3@mail.example.com>"]
    assert stored.in_reply_to is None
    assert stored.references == "<unknown@elsewhere> <first@oak> <gone@mail.example.com>"


async def test_the_quoted_history_is_trimmed(post_email, db, station):
    gmail = ("Yes, Saturday works for us.\n\nThanks,\nDana\n\n"
             "On Tue, Dec 1, 2026 at 8:00 AM MyHibachi <hello@myhibachi.test> wrote:\n"
             "> Hi Dana,\n> the deposit is $100.\n")
    outlook = ("Sounds great.\n\n-----Original Message-----\nFrom: MyHibachi\nSent: Monday\n"
               "Subject: Party\n\nThe deposit is $100.\n")
    bottom_quote = "See you then\n\n> Hi Dana,\n> the deposit is $100.\n"

    for n, text in enumerate((gmail, outlook, bottom_quote)):
        assert (await post_email(raw_email(text, message_id=f"<q{n}@mail.example.com>"))).status_code == 201

    assert [m.body for m in await messages(db)] == \
        ["Yes, Saturday works for us.\n\nThanks,\nDana", "Sounds great.", "See you then"]


async def test_html_is_made_safe_and_its_text_kept_without_the_quote(post_email, db, station):
    html = ('<html><head><title>hi</title><style>p {color: red}</style></head><body>'
            '<p onclick="steal()">See you on <b>Saturday</b>!</p><script>alert("x")</script>'
            '<img src="https://track.example/open.gif" alt="pixel"><img src="cid:logo@mail.example.com" alt="logo">'
            '<a href="https://example.com/menu" onmouseover="steal()">our menu</a> '
            '<a href="javascript:steal()">bad</a> <a href="data:text/html,x">worse</a>'
            '<div class="gmail_quote">On Monday MyHibachi wrote:<blockquote>The deposit is $100.</blockquote></div>'
            '</body></html>')

    assert (await post_email(raw_email(None, html=html))).status_code == 201

    [message] = await messages(db)
    assert message.body == "See you on Saturday!\nour menu bad worse"
    safe = message.body_html
    for gone in ("<script", "alert", "onclick", "onmouseover", "track.example", "javascript:", "data:text",
                 "<style", "<title"):
        assert gone not in safe, gone
    assert '<img src="cid:logo@mail.example.com" alt="logo">' in safe
    assert '<a href="https://example.com/menu" rel="noopener noreferrer">our menu</a>' in safe
    assert "<b>Saturday</b>" in safe


async def test_a_text_and_html_message_keeps_its_text_part_as_the_body(post_email, db, station):
    raw = raw_email("Plain words", html="<p>Rich <i>words</i></p>")

    assert (await post_email(raw)).status_code == 201

    [message] = await messages(db)
    assert (message.body, message.body_html) == ("Plain words", "<p>Rich <i>words</i></p>")


async def test_a_redelivery_and_two_concurrent_posts_store_one_message(post_email, db, station):
    first, again = await post_email(raw_email()), await post_email(raw_email())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicates"] == 1 and again.json()["stored"] == 0
    assert again.json()["detail"].startswith("duplicate")

    both = await asyncio.gather(*(post_email(raw_email(message_id="<same@mail.example.com>")) for _ in range(2)))

    assert sorted(r.status_code for r in both) == [200, 201], [r.text for r in both]
    assert [m.provider_message_id for m in await messages(db)] == ["<m1@mail.example.com>", "<same@mail.example.com>"]
    assert len(await conversations(db)) == 1


async def test_a_message_without_message_id_is_stored_once_by_its_bytes(post_email, db, station):
    raw = raw_email(message_id=None)

    first, again = await post_email(raw), await post_email(raw)

    assert (first.status_code, again.status_code) == (201, 200)
    [message] = await messages(db)
    assert message.provider_message_id.startswith("sha256:") and len(message.provider_message_id) == 71


async def test_long_headers_are_kept_within_their_columns(post_email, db, station):
    long_id = "<" + "x" * 300 + "@mail.example.com>"
    raw = raw_email(subject="Party " * 60, message_id=long_id, in_reply_to=long_id,
                    date="Wed, 01 Dec 2027 15:00:00 +0000")

    response = await post_email(raw)

    assert response.status_code == 201, response.text
    [message] = await messages(db)
    assert message.provider_message_id.startswith("sha256:") and message.in_reply_to == message.provider_message_id
    assert message.at == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # a date in the future: the time it came
    [conversation] = await conversations(db)
    assert len(conversation.subject) == 200


async def test_bad_input_is_refused_and_nothing_stored(provider, post_email, db, station):
    unauthenticated = await provider.post("/api/v1/webhooks/email/inbound", content=raw_email(),
                                          headers=inbound_headers("wrong"))
    garbage = await post_email(b"\xff\x00garbage")
    no_address = await post_email(raw_email(sender="Dana Reyes"))

    assert unauthenticated.status_code == 401
    for response in (garbage, no_address):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "unreadable_email" and "sender" in response.json()["detail"]
    assert await messages(db) == [] and await conversations(db) == []
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Contact)) == 0


async def test_a_delivery_report_still_goes_to_the_bounce_path(post_email, db, station):
    report = dsn([("dana@example.com", "failed", "5.1.1")], "<sent@myhibachi.test>")

    response = await post_email(report)

    assert response.status_code == 200 and response.json()["report"] == "delivery-status"
    assert response.json()["stored"] == 1 and response.json()["conversation_id"] is None
    async with db.transaction(write=False) as session:
        assert [b.email for b in await session.scalars(select(BounceEvent))] == ["dana@example.com"]
    assert await messages(db) == []


async def test_an_unknown_charset_and_no_date_still_make_a_message(post_email, db, station):
    raw = (b"From: eli@example.com\r\nSubject: Hi\r\nMessage-ID: <c1@mail.example.com>\r\n"
           b"Content-Type: text/plain; charset=x-unheard-of\r\n\r\nCaf\xc3\xa9 party for 12?\r\n")

    assert (await post_email(raw)).status_code == 201

    [message] = await messages(db)
    assert message.body == "Café party for 12?"
    assert message.at == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # when it came
