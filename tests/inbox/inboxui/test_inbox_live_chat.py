"""The admin's live chat (issue 20, item 6) as pages answer it: who answers a website chat, taking it over from the
assistant and handing it back (a chat someone else took, or one the assistant has already, said on top with nothing
changed; another station's not found), the assistant's request for a person flagged in the list and on top, the
reply box that tells the visitor of typing, and the live chat widget's fragments (the viewer's website chats, a
short thread, a reply through the inbox's command) offered only to staff who work the inbox."""

from __future__ import annotations

from sqlalchemy import select

from myhibachi.auth.permissions import Role
from myhibachi.auth.principal import Principal
from myhibachi.inbox import commands
from myhibachi.inbox.models import Channel, Conversation, ConversationStatus, HandoffReason, Message
from myhibachi.inbox.web_chat import receive_visitor_message
from tests.conftest import PASSWORD
from tests.inbox.inboxui.test_inbox_pages import form_to, listed
from tests.web.browserless import csrf_of, read, submit

HANDED_BACK = "You are chatting with our automated assistant again."


async def web_chat(db, station, visitor: str = "visitor-1", body: str = "Is Dec 12 free?") -> int:  # noqa: ANN001
    async with db.transaction() as session:
        received = await receive_visitor_message(session, visitor, None, body, station_id=station.id)
        assert received is not None
        return received.conversation.id


async def row(db, conversation_id: int) -> Conversation:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return await session.get_one(Conversation, conversation_id)


async def colleague(make_user, station, email: str = "sue@example.com") -> Principal:  # noqa: ANN001
    """Another support member of the station, for commands run beside the page."""
    user_id = await make_user(email, Role.support, station, name="Sue Second")
    return Principal(user_id=user_id, email=email, name="Sue Second", is_super_admin=False,
                     roles={station.id: Role.support})


async def test_taking_a_chat_over_and_handing_it_back(client, db, station, staff):  # noqa: ANN001
    chat = await web_chat(db, station)
    page = read(await client.get(f"/admin/inbox/{chat}"))
    assert "The assistant is answering" in page.text and "Hand back to the assistant" not in page.text
    assert f'data-typing-for="{chat}"' in page.text  # the reply box tells the visitor of typing

    taken = await submit(client, page, None, form=form_to(page, f"/admin/inbox/{chat}/take-over"))

    assert taken.response.status_code == 200
    assert "You are answering this chat now: the assistant stays silent." in taken.text
    assert "You are answering</strong>" in taken.text and ">Take over</button>" not in taken.text
    assert ((await row(db, chat)).handled_by, (await row(db, chat)).assignee_id) == ("human", staff)

    back = await submit(client, taken, None, form=form_to(taken, f"/admin/inbox/{chat}/hand-back"))

    assert back.response.status_code == 200 and "The assistant answers this chat again" in back.text
    assert "The assistant is answering</strong>" in back.text and ">Take over</button>" in back.text
    assert (await row(db, chat)).handled_by == "bot"
    # the assistant's words, labelled as its own, in the transcript staff read
    bot = back.text.split('message-bot"', 1)[1].split("</li>", 1)[0]
    assert "<strong>Assistant</strong>" in bot and HANDED_BACK in bot


async def test_a_chat_someone_else_took_is_said_and_left_as_it_is(client, db, station, staff,
                                                                  make_user):  # noqa: ANN001
    chat = await web_chat(db, station)
    page = read(await client.get(f"/admin/inbox/{chat}"))  # still the assistant's when the page was opened
    sue = await colleague(make_user, station)
    async with db.transaction() as session:
        await commands.take_over(session, sue, chat)

    refused = await submit(client, page, None, form=form_to(page, f"/admin/inbox/{chat}/take-over"))

    assert refused.response.status_code == 409
    assert "A person handles this conversation already: it is assigned to someone else." in refused.text
    assert "Sue Second is answering" in refused.text  # and the page shows who
    assert ((await row(db, chat)).handled_by, (await row(db, chat)).assignee_id) == ("human", sue.user_id)


async def test_handing_back_a_chat_the_assistant_has_already_is_said(client, db, station, staff,
                                                                     make_user):  # noqa: ANN001
    chat = await web_chat(db, station)
    sue = await colleague(make_user, station)
    async with db.transaction() as session:
        await commands.take_over(session, sue, chat)
    page = read(await client.get(f"/admin/inbox/{chat}"))
    async with db.transaction() as session:  # Sue hands it back in the meantime
        await commands.hand_back(session, sue, chat)

    refused = await submit(client, page, None, form=form_to(page, f"/admin/inbox/{chat}/hand-back"))

    assert refused.response.status_code == 409 and "The assistant has this conversation already." in refused.text
    async with db.transaction(write=False) as session:
        told = await session.scalars(select(Message.body).where(Message.conversation_id == chat,
                                                                Message.sender == "bot"))
        assert len([body for body in told if HANDED_BACK in body]) == 1  # the visitor was told once


async def test_another_stations_chat_cannot_be_taken_or_handed_back(client, db, station, staff,
                                                                    make_station):  # noqa: ANN001
    other = await make_station("SJC")
    theirs = await web_chat(db, other, visitor="visitor-sjc")
    csrf = csrf_of(read(await client.get("/admin")))

    taken = await client.post(f"/admin/inbox/{theirs}/take-over", data={"csrf_token": csrf})
    handed = await client.post(f"/admin/inbox/{theirs}/hand-back", data={"csrf_token": csrf})

    assert (taken.status_code, handed.status_code) == (404, 404) and "<h1>Not found</h1>" in taken.text
    assert ((await row(db, theirs)).handled_by, (await row(db, theirs)).assignee_id) == ("bot", None)


async def test_a_chat_whose_assistant_asks_for_a_person_is_flagged_on_top(client, db, station, staff,
                                                                          receive):  # noqa: ANN001
    quiet = await web_chat(db, station, visitor="visitor-quiet", body="Menu?")
    wanting = await web_chat(db, station, visitor="visitor-upset", body="I want my money back")
    await receive(Channel.sms, "+15105550101", "Price for 12?")
    async with db.transaction() as session:
        assert await commands.request_handoff(session, wanting, HandoffReason.refund)

    page = read(await client.get("/admin/inbox"))

    panel = page.text.split('id="late-title"', 1)[1].split("</section>", 1)[0]
    assert "Needs someone now" in page.text and "Wants a person: refund" in panel
    assert f'href="/admin/inbox/{wanting}?' in panel and f'href="/admin/inbox/{quiet}?' not in panel
    item = page.text.split(f'href="/admin/inbox/{wanting}?', 2)[2].split("</li>", 1)[0]  # its row in the list
    assert "Wants a person: refund" in item
    thread = read(await client.get(f"/admin/inbox/{wanting}"))
    assert "Wants a person: refund" in thread.text.split('id="handling"', 1)[1]

    await submit(client, thread, None, form=form_to(thread, f"/admin/inbox/{wanting}/take-over"))
    after = read(await client.get("/admin/inbox"))
    assert "Wants a person" not in after.text and "Needs someone now" not in after.text  # a person has it now
    assert wanting in listed(after)


async def test_only_a_website_chat_has_the_assistant_and_typing(client, db, station, staff,
                                                                receive):  # noqa: ANN001
    texted = await receive(Channel.sms, "+15105550101", "Price for 12?")
    page = read(await client.get(f"/admin/inbox/{texted}"))

    assert 'id="handling"' not in page.text and "data-typing-for" not in page.text
    assert f"/admin/inbox/{texted}/take-over" not in page.text


# --- the widget ----------------------------------------------------------------------------------------------------


async def test_the_widget_is_on_every_page_of_staff_who_work_the_inbox_only(client, station, staff,
                                                                            make_user):  # noqa: ANN001
    for path in ("/admin", "/admin/inbox", "/admin/settings"):
        page = await client.get(path)
        assert "data-live-chat " in page.text and "js/admin-chat." in page.text, path
    await client.post("/admin/logout", data={"csrf_token": csrf_of(read(await client.get("/admin")))})
    await make_user("chen@example.com", Role.chef, station, name="Chen Chef")
    chef = await submit(client, read(await client.get("/admin/login")), None, email="chen@example.com",
                        password=PASSWORD)

    assert chef.response.status_code == 200 and "<h1>Dashboard" in chef.text
    assert "data-live-chat" not in chef.text and "admin-chat." not in chef.text
    assert (await client.get("/admin/live-chat")).status_code == 403


async def test_the_widget_lists_the_viewers_website_chats_with_their_unread_counts(
        client, db, station, staff, receive, make_user):  # noqa: ANN001
    me = Principal(user_id=staff, email="sam@example.com", name="Sam Support", is_super_admin=False,
                   roles={station.id: Role.support})
    sue = await colleague(make_user, station)
    mine, hers, _nobodys = [await web_chat(db, station, visitor=f"v-{n}", body=f"Hello {n}") for n in "abc"]
    resolved = await web_chat(db, station, visitor="v-d")
    texted = await receive(Channel.sms, "+15105550101", "Price for 12?")
    async with db.transaction() as session:
        for who, chat in ((me, mine), (sue, hers), (me, resolved)):
            await commands.take_over(session, who, chat)
        await commands.update_conversation(session, me, texted, assignee_id=staff)  # mine, but no website chat
        await commands.update_conversation(session, me, resolved, status=ConversationStatus.resolved)
    await web_chat(db, station, visitor="v-a", body="Still there?")  # a second message in mine

    fragment = await client.get("/admin/live-chat")

    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert [int(part.split('"', 1)[0]) for part in fragment.text.split('data-live-chat-open="')[1:]] == [mine]
    assert 'data-unread="2"' in fragment.text and "2 unread" in fragment.text
    assert "The assistant is answering" not in fragment.text and "You are answering" in fragment.text


async def test_the_widgets_thread_and_its_reply(client, db, station, staff, make_station):  # noqa: ANN001
    chat = await web_chat(db, station, body="Do you do <vegan>?")
    csrf = csrf_of(read(await client.get("/admin")))

    thread = await client.get(f"/admin/live-chat/{chat}")
    empty = await client.post(f"/admin/live-chat/{chat}/messages", data={"body": "  ", "csrf_token": csrf})
    sent = await client.post(f"/admin/live-chat/{chat}/messages", data={"body": "Yes, tofu!", "csrf_token": csrf})
    forged = await client.post(f"/admin/live-chat/{chat}/messages", data={"body": "Forged"})

    assert thread.status_code == 200 and "Do you do &lt;vegan&gt;?" in thread.text
    assert "The assistant is answering" in thread.text and f'data-typing-for="{chat}"' in thread.text
    assert empty.status_code == 422 and 'id="live-chat-body-error">Write something to send.' in empty.text
    assert sent.status_code == 200 and "Yes, tofu!" in sent.text and "You are answering" in sent.text
    assert forged.status_code == 403
    async with db.transaction(write=False) as session:
        bodies = list(await session.scalars(select(Message.body).where(Message.conversation_id == chat)
                                            .order_by(Message.id)))
    assert bodies == ["Do you do <vegan>?", "Yes, tofu!"]
    assert ((await row(db, chat)).handled_by, (await row(db, chat)).assignee_id) == ("human", staff)

    theirs = await web_chat(db, await make_station("SJC"), visitor="visitor-sjc")
    assert (await client.get(f"/admin/live-chat/{theirs}")).status_code == 404
    refused = await client.post(f"/admin/live-chat/{theirs}/messages", data={"body": "Mine", "csrf_token": csrf})
    assert refused.status_code == 404 and (await row(db, theirs)).handled_by == "bot"
