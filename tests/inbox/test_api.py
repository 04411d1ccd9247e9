"""The inbox's JSON API (SPEC §7 "Inbox"): the list with its filters and cursor, a thread, a reply and a private
note, Meta's window as a problem, status and assignment, read marks."""

from __future__ import annotations

from datetime import timedelta

from myhibachi.contacts.models import HandleKind
from myhibachi.core.db import utcnow
from myhibachi.inbox import commands
from myhibachi.inbox.commands import Inbound
from myhibachi.inbox.models import Channel
from tests.inbox.conftest import API


async def text(db, sid: str, phone: str, body: str = "Hi") -> int:  # noqa: ANN001
    async with db.transaction() as session:
        received = await commands.receive(session, Inbound(channel=Channel.sms, provider_message_id=sid, body=body,
                                                           phone=phone))
        return received.conversation.id


async def test_the_list_newest_first_with_filters_and_a_cursor(client, db, station, admin, clock):  # noqa: ANN001
    first = await text(db, "SM1", "+15105550101")
    clock.shift(timedelta(minutes=1))
    second = await text(db, "SM2", "+15105550102")
    clock.shift(timedelta(minutes=1))
    async with db.transaction() as session:
        dm = await commands.receive(session, Inbound(channel=Channel.messenger, provider_message_id="m1", body="yo",
                                                     handle=(HandleKind.messenger, "psid-9")))

    page = (await client.get(f"{API}/conversations", params={"limit": 2}, headers=admin)).json()
    rest = (await client.get(f"{API}/conversations", params={"limit": 2, "cursor": page["next_cursor"]},
                             headers=admin)).json()
    texts = (await client.get(f"{API}/conversations", params={"channel": "sms"}, headers=admin)).json()

    assert [c["id"] for c in page["items"]] == [dm.conversation.id, second] and rest["next_cursor"] is None
    assert [c["id"] for c in rest["items"]] == [first]
    assert [c["id"] for c in texts["items"]] == [second, first]
    assert page["items"][0]["window_closes_at"] is not None and texts["items"][0]["window_closes_at"] is None
    bad = await client.get(f"{API}/conversations", params={"cursor": "nonsense"}, headers=admin)
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


async def test_reply_note_assignment_and_read_through_the_api(client, db, station, admin):  # noqa: ANN001
    conversation_id = await text(db, "SM1", "+15105550101", "Price for 12?")

    reply = await client.post(f"{API}/conversations/{conversation_id}/messages", json={"body": "From $550."},
                              headers=admin)
    note = await client.post(f"{API}/conversations/{conversation_id}/messages",
                             json={"body": "VIP", "private": True}, headers=admin)
    empty = await client.post(f"{API}/conversations/{conversation_id}/messages", json={"body": "   "}, headers=admin)
    resolved = await client.patch(f"{API}/conversations/{conversation_id}", json={"status": "resolved"},
                                  headers=admin)
    unknown_assignee = await client.patch(f"{API}/conversations/{conversation_id}", json={"assignee_id": 999},
                                          headers=admin)
    thread = (await client.get(f"{API}/conversations/{conversation_id}", headers=admin)).json()

    assert reply.status_code == 201 and reply.json()["delivery"] == "queued" and reply.json()["author"] == "Ada Admin"
    assert note.status_code == 201 and note.json()["private"] and note.json()["delivery"] is None
    assert empty.status_code == 422
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert unknown_assignee.status_code == 422 and thread["assignee_id"] is not None
    assert [(m["sender"], m["body"], m["delivery"]) for m in thread["messages"]] == [
        ("contact", "Price for 12?", None), ("staff", "From $550.", "sent"), ("staff", "VIP", None)]
    assert thread["unread"] == 0 and thread["status"] == "resolved"


async def test_a_closed_meta_window_is_a_clear_conflict(client, db, station, admin):  # noqa: ANN001
    async with db.transaction() as session:
        dm = await commands.receive(session, Inbound(channel=Channel.instagram, provider_message_id="ig1", body="hey",
                                                     at=utcnow() - timedelta(hours=30),
                                                     handle=(HandleKind.instagram, "ig-7")))

    refused = await client.post(f"{API}/conversations/{dm.conversation.id}/messages", json={"body": "Hi!"},
                                headers=admin)
    tagged = await client.post(f"{API}/conversations/{dm.conversation.id}/messages",
                               json={"body": "Hi!", "human_agent": True}, headers=admin)

    assert refused.status_code == 409 and refused.json()["code"] == "window_closed"
    assert "human agent" in refused.json()["detail"]
    assert tagged.status_code == 201 and tagged.json()["tag"] == "HUMAN_AGENT"


async def test_labels_are_set_kept_in_lower_case_and_filter_the_list(client, db, station, admin,  # noqa: ANN001
                                                                     make_station, make_user, login):
    labelled = await text(db, "SM1", "+15105550101")
    other = await text(db, "SM2", "+15105550102")
    url = f"{API}/conversations/{labelled}"

    first = await client.patch(url, json={"labels": ["  VIP ", "Wedding"]}, headers=admin)
    replaced = await client.patch(url, json={"labels": ["vip", "corporate"]}, headers=admin)
    too_many = await client.patch(url, json={"labels": [f"l{n}" for n in range(21)]}, headers=admin)
    blank = await client.patch(url, json={"labels": ["ok", "   "]}, headers=admin)
    by_label = (await client.get(f"{API}/conversations", params={"label": "VIP"}, headers=admin)).json()
    elsewhere = await make_station("SJC")
    await make_user("sj@example.com", "admin", elsewhere)
    foreign = await client.patch(url, json={"labels": ["mine"]}, headers=await login("sj@example.com"))
    thread = (await client.get(url, headers=admin)).json()

    assert first.status_code == 200 and first.json()["labels"] == ["vip", "wedding"]
    assert replaced.json()["labels"] == ["corporate", "vip"]
    assert too_many.status_code == 422 and blank.status_code == 422
    assert [c["id"] for c in by_label["items"]] == [labelled] and other != labelled
    assert foreign.status_code == 404 and thread["labels"] == ["corporate", "vip"]  # refused changes nothing


async def test_one_persons_threads_by_contact_id(client, db, station, admin):  # noqa: ANN001
    mine = await text(db, "SM1", "+15105550101")
    await text(db, "SM2", "+15105550102")
    thread = (await client.get(f"{API}/conversations/{mine}", headers=admin)).json()

    found = (await client.get(f"{API}/conversations", params={"contact_id": thread["contact_id"]},
                              headers=admin)).json()

    assert [c["id"] for c in found["items"]] == [mine]
