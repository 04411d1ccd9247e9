"""The inbox page's tools around a thread (issue 19, items 3–6): who is late (a panel on top, a flag on each row and
a filter), labels added and removed (and filtering the list), canned replies put into the reply box filled in with
the station's rules, and the quote form that prices a party or holds a date and sends the deposit link."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.contacts.commands import Identity, find_or_create_contact
from myhibachi.core.db import utcnow
from myhibachi.core.money import format_money
from myhibachi.inbox.models import CannedReply, Channel, Conversation, ConversationLabel, Message
from myhibachi.leads.models import Lead
from myhibachi.pricing.queries import get_rules
from tests.bookings.conftest import EVENT_DAY
from tests.inbox.inboxui.test_inbox_pages import form_to, messages
from tests.inbox.quote.conftest import thread  # noqa: F401 - Dana's SMS thread, her email and phone known
from tests.web.browserless import Page, csrf_of, read, submit


def late_panel(page: Page) -> str:
    """The "needs someone now" panel's text ("" when there is none)."""
    start = page.text.find('class="late-panel"')
    return page.text[start:page.text.find("</section>", start)] if start != -1 else ""


async def test_who_is_late_is_on_top_flagged_and_filtered(client, db, station, staff, receive):  # noqa: ANN001
    """Asked yesterday morning and never answered: a day overdue. Asked just now: not late yet."""
    overdue = await receive(Channel.sms, "+15105550101", "Price?", at=utcnow() - timedelta(days=1), name="Olu Old")
    fresh = await receive(Channel.email, "new@example.com", "Hello", name="Nia New")

    page = read(await client.get("/admin/inbox"))
    late_only = read(await client.get(f"/admin/inbox?station={station.id}&late=1"))

    panel = late_panel(page)
    assert "Needs someone now" in panel and "Olu Old" in panel and "Nia New" not in panel
    assert "Late: the answer was due" in panel and "Unassigned 1" in panel
    row = page.text[page.text.find(f'href="/admin/inbox/{overdue}?', page.text.find('<ul class="conversations">')):]
    assert '<span class="badge late">Late</span>' in row[:600]
    assert f'href="/admin/inbox/{fresh}?' in page.text and f'href="/admin/inbox/{fresh}?' not in late_only.text
    thread_page = read(await client.get(f"/admin/inbox/{overdue}"))
    assert "Late: the answer was due" in thread_page.text

    answered = await submit(client, thread_page, None, form=form_to(thread_page, f"/admin/inbox/{overdue}/messages"),
                            body="Sorry for the wait: from $550.")
    assert answered.response.status_code == 200 and late_panel(answered) == ""


async def test_labels_are_added_removed_and_filter_the_list(client, db, station, staff, receive):  # noqa: ANN001
    labelled = await receive(Channel.sms, "+15105550101", "Wedding in June")
    other = await receive(Channel.sms, "+15105550102", "Hi")
    page = read(await client.get(f"/admin/inbox/{labelled}"))

    added = await submit(client, page, None, form=form_to(page, f"/admin/inbox/{labelled}/labels"), add="  Wedding ")
    add_form = next(form for form in added.forms if "add" in form.fields)  # after each label's remove button
    blank = await submit(client, added, None, form=add_form, add="   ")
    filtered = read(await client.get(f"/admin/inbox?station={station.id}&label=wedding"))

    assert "Labels saved." in added.text and '<span class="label-chip">wedding</span>' in added.text
    assert blank.response.status_code == 422 and "1 to 40 characters" in blank.errors["add"]
    assert f'href="/admin/inbox/{labelled}?' in filtered.text and f'href="/admin/inbox/{other}?' not in filtered.text
    assert '<option value="wedding" selected>' in filtered.text  # the station's labels to filter by

    removed = await client.post(f"/admin/inbox/{labelled}/labels",
                                data={"remove": "wedding", "csrf_token": csrf_of(added)})
    assert removed.status_code == 303
    async with db.transaction(write=False) as session:
        assert list(await session.scalars(select(ConversationLabel.label))) == []


async def test_a_canned_reply_goes_into_the_reply_box_filled_in(client, db, station, staff, receive):  # noqa: ANN001
    conversation_id = await receive(Channel.sms, "+15105550101", "How much is the deposit?")
    async with db.transaction() as session:
        reply = CannedReply(station_id=station.id, title="Deposit", body="A {deposit} deposit holds your date.")
        session.add(reply)
        await session.flush()
        rules = await get_rules(session, station.id)
    filled = f"A {format_money(rules.deposit_cents, rules.currency)} deposit holds your date."

    page = read(await client.get(f"/admin/inbox/{conversation_id}"))
    without_js = read(await client.get(f"/admin/inbox/{conversation_id}?canned={reply.id}"))

    assert f'data-canned="{filled}"' in page.text and ">Deposit</a>" in page.text
    assert f">{filled}</textarea>" in without_js.text and f">{filled}</textarea>" not in page.text
    sent = await submit(client, without_js, None, form=form_to(without_js, f"/admin/inbox/{conversation_id}/messages"))
    assert sent.response.status_code == 200
    assert [m.body for m in await messages(db, conversation_id)][-1] == filled


async def test_the_quote_form_prices_or_holds_and_refuses_bad_input(client, db, station, staff, thread):  # noqa: ANN001, F811
    page = read(await client.get(f"/admin/inbox/{thread.id}"))
    quote_form = form_to(page, f"/admin/inbox/{thread.id}/quote")

    bad_zip = await submit(client, page, None, form=quote_form, zip_code="123", adults="10")
    no_venue = await submit(client, page, None, form=quote_form, zip_code="94538", adults="10",
                            event_date=str(EVENT_DAY), slot_time="18:00", allergies="none")
    assert bad_zip.response.status_code == 422 and "5 digits" in bad_zip.errors["zip_code"]
    assert no_venue.response.status_code == 422 and no_venue.errors.get("venue_line1")
    assert 'class="quote-form" open' in bad_zip.text and 'value="123"' in bad_zip.text  # typed input kept
    assert [m.direction for m in await messages(db, thread.id)] == ["in"]  # nothing sent

    priced = await submit(client, page, None, form=quote_form, zip_code="94538", adults="10", children="2")
    held = await submit(client, page, None, form=quote_form, zip_code="94538", adults="10",
                        event_date=str(EVENT_DAY), slot_time="18:00", allergies="none",
                        venue_line1="4100 Mowry Ave", venue_city="Fremont", venue_state="CA", venue_zip="94538")

    assert "Quote sent" in priced.text and "Date held and the quote with the deposit link sent." in held.text
    async with db.transaction(write=False) as session:
        conversation = await session.get_one(Conversation, thread.id)
        booking = await session.get_one(Booking, conversation.booking_id)
        lead = await session.get_one(Lead, conversation.lead_id)
        sent = list(await session.scalars(select(Message.body).where(
            Message.conversation_id == thread.id, Message.direction == "out").order_by(Message.id)))
    assert booking.status == BookingStatus.pending_deposit and lead.status == "quoted"
    assert len(sent) == 2 and booking.reference in sent[1] and "/pay" in sent[1] and "/pay" not in sent[0]


async def test_a_persons_threads_are_listed_together_on_their_contact(client, db, station, staff,  # noqa: ANN001
                                                                      receive):
    async with db.transaction() as session:
        kim = await find_or_create_contact(session, Identity(email="kim@example.com", phone="+15105550101"),
                                           name="Kim Lee")
    texted = await receive(Channel.sms, "+15105550101", "Hi")
    emailed = await receive(Channel.email, "kim@example.com", "Menu?", subject="Menu")
    stranger = await receive(Channel.sms, "+15105550199", "Hello")

    page = read(await client.get(f"/admin/contacts/{kim.id}"))

    section = page.text[page.text.find('id="conversations-title"'):page.text.find('id="leads-title"')]
    assert f'href="/admin/inbox/{texted}?' in section and f'href="/admin/inbox/{emailed}?' in section
    assert f'href="/admin/inbox/{stranger}?' not in section and "Text at" in section and "Email at" in section

