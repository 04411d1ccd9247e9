"""Double opt-in through `POST /api/v1/subscribe` (SPEC §7 "Consent and newsletters"): a grant and an email with a
signed link, the same answer for every address, a confirmation recorded once, and a bad or old link that changes
nothing; marketing is allowed only by a confirmed latest event."""

from __future__ import annotations

from datetime import timedelta

from myhibachi.consent.commands import record_consent
from myhibachi.consent.models import ConsentAction, ConsentChannel, ConsentPurpose, ConsentSource
from myhibachi.consent.queries import consenting_contact_ids, may_send_marketing
from myhibachi.contacts.commands import Identity, find_or_create_contact
from myhibachi.core.ratelimit import Throttle
from tests.bookings.conftest import NOW
from tests.consent.conftest import API, all_events, confirmation_mails, ledger, link_in


async def subscribe(client, email: str, **fields):  # noqa: ANN001, ANN201
    return await client.post(f"{API}/subscribe", json={"email": email, **fields})


async def test_a_subscriber_confirms_through_the_emailed_link(client, db, settings, station):
    response = await subscribe(client, "Dana@Example.com", station_id=station.id, source="landing_page")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "accepted"
    assert await ledger(db, "dana@example.com") == [("granted", "landing_page")]

    [mail] = confirmation_mails(settings, "dana@example.com")
    link = link_in(mail)
    token = link.rsplit("/", 1)[1]
    assert "dana" not in token.lower() and "example" not in token.lower()  # no address in clear
    [granted] = await all_events(db)
    assert (granted.channel, granted.purpose, granted.station_id, granted.ip) == (
        "email", "marketing", station.id, "203.0.113.7")
    async with db.transaction(write=False) as session:
        assert not await may_send_marketing(session, granted.contact_id)  # granted is not enough

    page = await client.get(link)
    assert page.status_code == 200 and "You are subscribed" in page.text
    again = await client.get(link)  # a second click (or a mail scanner's) records nothing more
    assert again.status_code == 200 and "You are subscribed" in again.text

    assert await ledger(db, "dana@example.com") == [("granted", "landing_page"), ("confirmed", "confirmation_link")]
    granted, confirmed = await all_events(db)
    assert confirmed.station_id == station.id and confirmed.at == NOW
    async with db.transaction(write=False) as session:
        assert await may_send_marketing(session, granted.contact_id)


async def test_every_address_gets_the_same_answer_and_a_confirmed_one_no_second_email(client, db, settings, station,
                                                                                      book):
    await book(station.id, email="known@example.com")  # a customer: a known contact, never asked
    await subscribe(client, "confirmed@example.com")
    await client.get(link_in(confirmation_mails(settings, "confirmed@example.com")[0]))

    answers = [await subscribe(client, email) for email in
               ("new@example.com", "known@example.com", "confirmed@example.com")]

    assert {(a.status_code, a.text) for a in answers} == {(202, answers[0].text)}
    assert len(confirmation_mails(settings, "new@example.com")) == 1
    assert len(confirmation_mails(settings, "known@example.com")) == 1
    assert len(confirmation_mails(settings, "confirmed@example.com")) == 1  # only the first
    assert await ledger(db, "confirmed@example.com") == [("granted", "api"), ("confirmed", "confirmation_link")]
    assert await ledger(db, "known@example.com") == [("granted", "api")]


async def test_a_forged_changed_or_expired_link_changes_nothing(client, db, settings, station, clock):
    await subscribe(client, "dana@example.com")
    link = link_in(confirmation_mails(settings, "dana@example.com")[0])
    contact_id, issued, mac = link.rsplit("/", 1)[1].split(".")
    forged = [f"{int(contact_id) + 1}.{issued}.{mac}", f"{contact_id}.{int(issued) + 86400}.{mac}",
              f"{contact_id}.{issued}.{mac[:-2]}AA", "not-a-token", f"{contact_id}.{issued}"]

    for token in forged:
        page = await client.get(f"/subscribe/confirm/{token}")
        assert page.status_code == 404 and "This link does not work" in page.text, token
    clock.move_to(NOW + timedelta(days=7, minutes=1))
    expired = await client.get(link)
    assert expired.status_code == 404 and "older than 7 days" in expired.text

    assert await ledger(db, "dana@example.com") == [("granted", "api")]


async def test_a_link_works_for_seven_days(client, db, settings, station, clock):
    await subscribe(client, "dana@example.com")
    clock.move_to(NOW + timedelta(days=6, hours=23))
    assert (await client.get(link_in(confirmation_mails(settings, "dana@example.com")[0]))).status_code == 200
    assert await ledger(db, "dana@example.com") == [("granted", "api"), ("confirmed", "confirmation_link")]


async def test_a_withdrawn_grant_is_not_confirmed_by_its_old_link(client, db, settings, station):
    await subscribe(client, "dana@example.com")
    [granted] = await all_events(db)
    async with db.transaction() as session:
        await record_consent(session, granted.contact_id, ConsentAction.withdrawn, ConsentSource.unsubscribe)

    page = await client.get(link_in(confirmation_mails(settings, "dana@example.com")[0]))

    assert page.status_code == 404
    assert await ledger(db, "dana@example.com") == [("granted", "api"), ("withdrawn", "unsubscribe")]


async def test_only_a_confirmed_latest_email_marketing_event_allows_marketing(db, station):
    async with db.transaction() as session:
        contact = await find_or_create_contact(session, Identity(email="dana@example.com"), name="Dana")
        other = await find_or_create_contact(session, Identity(email="ari@example.com"), name="Ari")

    async def state() -> tuple[bool, list[int]]:
        async with db.transaction(write=False) as session:
            return (await may_send_marketing(session, contact.id),
                    sorted(await session.scalars(consenting_contact_ids())))

    async def record(contact_id: int, action: ConsentAction, **where) -> None:  # noqa: ANN003
        async with db.transaction() as session:
            await record_consent(session, contact_id, action, ConsentSource.staff, **where)

    assert await state() == (False, [])  # never asked
    await record(contact.id, ConsentAction.confirmed, channel=ConsentChannel.sms)  # another channel
    await record(contact.id, ConsentAction.confirmed, purpose=ConsentPurpose.transactional)  # another purpose
    await record(other.id, ConsentAction.confirmed)
    assert await state() == (False, [other.id])
    await record(contact.id, ConsentAction.granted)
    assert await state() == (False, [other.id])
    await record(contact.id, ConsentAction.confirmed)
    assert await state() == (True, sorted([contact.id, other.id]))
    await record(contact.id, ConsentAction.withdrawn)
    assert await state() == (False, [other.id])
    await record(contact.id, ConsentAction.granted)  # asked again: not until confirmed again
    assert await state() == (False, [other.id])


async def test_an_unknown_station_is_refused_and_nothing_is_kept(client, db, settings, station):
    response = await subscribe(client, "dana@example.com", station_id=station.id + 99)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body.station_id"
    bad_source = await subscribe(client, "dana@example.com", source="staff")  # not a public door
    assert bad_source.status_code == 422
    assert await all_events(db) == [] and confirmation_mails(settings, "dana@example.com") == []


async def test_subscribing_is_rate_limited_per_client_address(client, db, runtime, station):
    runtime.public_form_posts_by_ip = Throttle(runtime.public_form_posts_by_ip.storage, "test-subscribe", 2, 60)
    statuses = [(await subscribe(client, f"p{n}@example.com")).status_code for n in range(3)]
    assert statuses == [202, 202, 429]
    assert len(await all_events(db)) == 2
