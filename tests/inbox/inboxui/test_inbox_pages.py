"""The admin's inbox page (issue 19, item 6): the list and its filters, a thread with its messages, private notes
and each reply's delivery, replying (also as htmx does), a private note, "assign to me", statuses, Meta's closed
window said beside the reply box, read marks, and another station's conversation as a 404 page."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from myhibachi.core.db import utcnow
from myhibachi.inbox import commands
from myhibachi.inbox.models import Channel, Conversation, DeliveryState, Message
from tests.web.browserless import Form, Page, csrf_of, read, submit

EMPTY = "No conversations yet — messages from texts, email, Messenger, Instagram and the website chat land here."


def form_to(page: Page, action: str, *boxes: str) -> Form:
    """The page's form that posts to `action` (its query string aside), its unticked checkboxes `boxes` there to
    tick (a browser sends an unticked box not at all)."""
    found = [form for form in page.forms if form.action.split("?")[0] == action]
    assert found, f"no form to {action}: {[form.action for form in page.forms]}"
    for box in boxes:
        assert f'name="{box}"' in page.text, f"no {box} box on the page"
    return Form(found[0].action, {**found[0].fields, **dict.fromkeys(boxes, "")}, found[0].buttons)


def listed(page: Page) -> list[int]:
    """The conversations the list links to, in order."""
    ids = []
    for chunk in page.text.split('href="/admin/inbox/')[1:]:
        ids.append(int(chunk.split("?")[0].split('"')[0]))
    return list(dict.fromkeys(ids))


async def conversation(db, conversation_id: int) -> Conversation:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return await session.get_one(Conversation, conversation_id)


async def messages(db, conversation_id: int) -> list[Message]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return list(await session.scalars(select(Message).where(Message.conversation_id == conversation_id)
                                          .order_by(Message.id)))


async def test_an_empty_inbox_says_where_messages_come_from(client, station, staff):  # noqa: ANN001
    page = read(await client.get("/admin/inbox"))

    assert page.response.status_code == 200 and EMPTY in page.text
    assert '<a href="/admin/inbox" aria-current="page">Inbox</a>' in page.text
    assert "Keyboard shortcuts" in page.text and "js/inbox." in page.text


async def test_the_list_filters_by_owner_channel_and_status_with_unread_counts(client, db, station, staff, receive,
                                                                              clock):  # noqa: ANN001
    texted = await receive(Channel.sms, "+15105550101", "Price for 12?")
    clock.shift(timedelta(minutes=1))
    await receive(Channel.sms, "+15105550101", "And for 14?")
    clock.shift(timedelta(minutes=1))
    dm = await receive(Channel.messenger, "psid-1", "Saturday free?")
    clock.shift(timedelta(minutes=1))
    mine = await receive(Channel.email, "ann@example.com", "Menu?", subject="Menu question")
    await client.post(f"/admin/inbox/{mine}/assign", data={"csrf_token": csrf_of(read(await client.get("/admin")))})

    everyone = read(await client.get("/admin/inbox"))
    by_me = read(await client.get("/admin/inbox", params={"view": "mine"}))
    nobodys = read(await client.get("/admin/inbox", params={"view": "unassigned"}))
    dms = read(await client.get("/admin/inbox", params={"channel": "messenger"}))
    resolved = read(await client.get("/admin/inbox", params={"status": "resolved"}))
    nonsense = read(await client.get("/admin/inbox", params={"channel": "fax", "view": "theirs"}))

    assert listed(everyone) == [mine, dm, texted] == listed(nonsense)
    assert "2 unread" in everyone.text and "4 unread" in everyone.text  # the text thread's, and the list's
    assert "Messenger" in everyone.text and "Menu question" in everyone.text and "Sam Support" in everyone.text
    assert listed(by_me) == [mine] and listed(nobodys) == [dm, texted] and listed(dms) == [dm]
    assert listed(resolved) == [] and "No conversation matches these filters" in resolved.text
    assert EMPTY not in resolved.text


async def test_a_thread_shows_messages_notes_and_each_replys_delivery(client, db, station, staff,
                                                                      receive):  # noqa: ANN001
    conversation_id = await receive(Channel.sms, "+15105550101", "Price for 12 <adults>?")
    page = read(await client.get(f"/admin/inbox/{conversation_id}"))

    sent = await submit(client, page, None, form=form_to(page, f"/admin/inbox/{conversation_id}/messages"),
                        body="From $550 for 12.")
    noted = await submit(client, sent, None, form=form_to(sent, f"/admin/inbox/{conversation_id}/messages", "private"),
                         body="Regular customer: offer the VIP menu.", private="on")

    assert sent.response.status_code == 200 and "Sent: it is on its way." in sent.text
    assert noted.response.status_code == 200 and "Private note added" in noted.text
    stored = await messages(db, conversation_id)
    assert [(m.sender, m.body, m.private, m.delivery) for m in stored] == [
        ("contact", "Price for 12 <adults>?", False, None), ("staff", "From $550 for 12.", False, "sent"),
        ("staff", "Regular customer: offer the VIP menu.", True, None)]
    async with db.transaction() as session:  # the carrier reports it could not deliver the reply
        assert await commands.record_delivery(session, Channel.sms, stored[1].provider_message_id or "",
                                              DeliveryState.failed, "Unreachable handset")

    thread = read(await client.get(f"/admin/inbox/{conversation_id}"))
    assert "Price for 12 &lt;adults&gt;?" in thread.text  # the person's words, escaped
    assert thread.text.index("Price for 12") < thread.text.index("From $550") < thread.text.index("VIP menu")
    assert 'class="message message-in"' in thread.text and 'class="message message-note"' in thread.text
    assert "Private note</strong> by Sam Support" in thread.text
    assert "Not delivered: Unreachable handset" in thread.text
    assert (await conversation(db, conversation_id)).assignee_id == staff  # who answered owns it


async def test_a_reply_through_htmx_answers_with_the_thread_and_a_refusal_beside_the_box(client, db, station, staff,
                                                                                        receive):  # noqa: ANN001
    conversation_id = await receive(Channel.sms, "+15105550101", "Price for 12?")
    page = read(await client.get(f"/admin/inbox/{conversation_id}"))
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf_of(page)}

    empty = await client.post(f"/admin/inbox/{conversation_id}/messages", data={"body": "   "}, headers=headers)
    sent = await client.post(f"/admin/inbox/{conversation_id}/messages", data={"body": "See you then!"},
                             headers=headers, follow_redirects=True)
    forged = await client.post(f"/admin/inbox/{conversation_id}/messages", data={"body": "Forged"},
                               headers={"HX-Request": "true"})

    assert empty.status_code == 422 and "Write something to send." in read(empty).errors["body"]
    assert sent.status_code == 200 and 'id="conversation"' in sent.text and "See you then!" in sent.text
    assert forged.status_code == 403 and "This form had expired" in forged.text
    assert [m.body for m in await messages(db, conversation_id)] == ["Price for 12?", "See you then!"]


async def test_assign_to_me_and_the_status_buttons(client, db, station, staff, receive):  # noqa: ANN001
    conversation_id = await receive(Channel.email, "ann@example.com", "Menu?")
    page = read(await client.get(f"/admin/inbox/{conversation_id}?view=unassigned"))
    assert 'data-shortcut="a"' in page.text and 'data-shortcut="e"' in page.text

    assigned = await submit(client, page, None, form=form_to(page, f"/admin/inbox/{conversation_id}/assign"))
    resolve = next(f for f in assigned.forms if f.action.startswith(f"/admin/inbox/{conversation_id}/status")
                   and f.fields.get("status") == "resolved")
    resolved = await submit(client, assigned, None, form=resolve)

    assert "It is yours now." in assigned.text and 'data-shortcut="a"' not in assigned.text
    assert "view=unassigned" in str(assigned.response.url)  # the list's filters kept
    assert "Resolved." in resolved.text and 'data-shortcut="e"' not in resolved.text
    row = await conversation(db, conversation_id)
    assert (row.assignee_id, row.status) == (staff, "resolved")
    bad = await client.post(f"/admin/inbox/{conversation_id}/status",
                            data={"status": "archived", "csrf_token": csrf_of(resolved)})
    assert bad.status_code == 422 and (await conversation(db, conversation_id)).status == "resolved"


async def test_a_closed_meta_window_is_said_beside_the_reply_box(client, db, station, staff, receive):  # noqa: ANN001
    late = await receive(Channel.instagram, "ig-7", "Still on?", at=utcnow() - timedelta(hours=30))
    fresh = await receive(Channel.messenger, "psid-2", "Hello")
    page = read(await client.get(f"/admin/inbox/{late}"))
    assert "reply window closed" in page.text and 'name="human_agent"' in page.text
    open_page = read(await client.get(f"/admin/inbox/{fresh}"))
    assert "reply window is open until" in open_page.text and 'name="human_agent"' not in open_page.text

    refused = await submit(client, page, None, form=form_to(page, f"/admin/inbox/{late}/messages"), body="Yes!")
    assert refused.response.status_code == 409
    assert "send it as a human agent reply" in refused.errors["body"] and ">Yes!</textarea>" in refused.text
    assert [m.body for m in await messages(db, late)] == ["Still on?"]  # nothing stored

    tagged = await submit(client, refused, None, form=form_to(refused, f"/admin/inbox/{late}/messages", "human_agent"),
                          body="Yes, we are!", human_agent="on")
    assert tagged.response.status_code == 200 and "(as a human agent)" in tagged.text
    assert [(m.body, m.tag) for m in await messages(db, late)][-1] == ("Yes, we are!", "HUMAN_AGENT")


async def test_opening_a_thread_marks_it_read_by_a_post(client, db, station, staff, receive):  # noqa: ANN001
    conversation_id = await receive(Channel.sms, "+15105550101", "Hi")
    page = read(await client.get(f"/admin/inbox/{conversation_id}"))
    assert f'hx-post="/admin/inbox/{conversation_id}/read"' in page.text
    assert (await conversation(db, conversation_id)).unread == 1  # looking is no GET's side effect

    done = await client.post(f"/admin/inbox/{conversation_id}/read", headers={"X-CSRF-Token": csrf_of(page)})

    assert done.status_code == 204 and (await conversation(db, conversation_id)).unread == 0
    again = read(await client.get(f"/admin/inbox/{conversation_id}"))
    assert f'hx-post="/admin/inbox/{conversation_id}/read"' not in again.text


async def test_the_thread_shows_the_persons_bookings_leads_and_consent(client, db, station, staff,
                                                                       receive):  # noqa: ANN001
    conversation_id = await receive(Channel.email, "new.person@example.com", "Quote for 20?", name="Nia New")
    row = await conversation(db, conversation_id)
    page = read(await client.get(f"/admin/inbox/{conversation_id}"))

    assert f'href="/admin/leads/{row.lead_id}"' in page.text  # an unknown sender became a lead
    assert f'href="/admin/contacts/{row.contact_id}"' in page.text and "new.person@example.com" in page.text
    assert "No bookings." in page.text and "Email marketing" in page.text


async def test_an_email_is_shown_in_a_sandboxed_frame(client, db, station, staff, receive):  # noqa: ANN001
    conversation_id = await receive(Channel.email, "ann@example.com", "Hello", body_html="<p>Hello <b>there</b></p>")
    page = read(await client.get(f"/admin/inbox/{conversation_id}"))

    assert 'sandbox srcdoc="&lt;p&gt;Hello &lt;b&gt;there&lt;/b&gt;&lt;/p&gt;"' in page.text


async def test_another_stations_conversation_is_not_found(client, db, station, staff, receive,
                                                          make_station):  # noqa: ANN001
    other = await make_station("SJC")
    theirs = await receive(Channel.sms, "+15105550199", "Hi", station_id=other.id)

    page = await client.get(f"/admin/inbox/{theirs}")
    reply = await client.post(f"/admin/inbox/{theirs}/messages",
                              data={"body": "Mine now", "csrf_token": csrf_of(read(await client.get("/admin")))})
    listed_here = read(await client.get("/admin/inbox", params={"station": other.id}))

    assert page.status_code == 404 and "Not found" in page.text and "+15105550199" not in page.text
    assert reply.status_code == 404 and [m.body for m in await messages(db, theirs)] == ["Hi"]
    assert theirs not in listed(listed_here)
