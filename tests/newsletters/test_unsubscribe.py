"""Unsubscribing (SPEC §7, RFC 8058): a mail client's one-click POST withdraws at once with no cookie, no Origin and
no CSRF token; a GET (a link scanner) only shows the button; a second POST writes nothing more; a forged, changed
or year-old link is a 404 that changes nothing; the campaign the link came with counts it."""

from __future__ import annotations

from datetime import timedelta

from myhibachi.consent.commands import UNSUBSCRIBE_LINK, marketing_headers, unsubscribe_url
from myhibachi.consent.tokens import sign_contact
from tests.conftest import TEST_SECRET
from tests.newsletters.conftest import NOW, audience, ledger_of, recipient_row, sent_campaign, subscriber

CONFIRMED = [("granted", "footer_form"), ("confirmed", "confirmation_link")]


def path_of(url: str) -> str:
    return url.removeprefix("http://testserver")


async def test_a_mail_clients_one_click_post_withdraws_at_once_without_cookie_or_csrf(provider, db, settings,
                                                                                     station):
    contact_id = await subscriber(db, "dana@example.com", station.id)
    headers = marketing_headers(settings, contact_id)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = headers["List-Unsubscribe"].strip("<>")
    assert contact_id in await audience(db, station.id)

    response = await provider.post(path_of(link), data={"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200, response.text
    assert "Unsubscribed" in response.text
    assert "origin" not in {k.lower() for k in response.request.headers} and "cookie" not in response.request.headers
    assert await ledger_of(db, contact_id) == [*CONFIRMED, ("withdrawn", "unsubscribe")]
    assert contact_id not in await audience(db, station.id)
    again = await provider.post(path_of(link), data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    assert await ledger_of(db, contact_id) == [*CONFIRMED, ("withdrawn", "unsubscribe")]  # nothing more written
    assert len(provider.cookies) == 0


async def test_opening_the_link_only_shows_the_button_and_the_button_unsubscribes(client, db, settings, station):
    contact_id = await subscriber(db, "dana@example.com", station.id)
    link = path_of(unsubscribe_url(settings, contact_id))

    for _ in range(2):  # a link scanner, then the person
        page = await client.get(link)
        assert page.status_code == 200 and "Unsubscribe from our emails?" in page.text
        assert "d…@example.com" in page.text and "dana@" not in page.text
    assert await ledger_of(db, contact_id) == CONFIRMED
    assert contact_id in await audience(db, station.id)

    done = await client.post(link)  # the page's button: a plain form post of the browser

    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert f'href="/preferences/{link.rsplit("/", 1)[1]}"' in done.text
    assert await ledger_of(db, contact_id) == [*CONFIRMED, ("withdrawn", "unsubscribe")]


async def test_a_forged_changed_or_year_old_link_changes_nothing(provider, db, settings, station, clock):
    contact_id = await subscriber(db, "dana@example.com", station.id)
    token = unsubscribe_url(settings, contact_id).rsplit("/", 1)[1]
    _, issued, mac = token.split(".")
    confirm_token = sign_contact(TEST_SECRET, "confirm", contact_id, NOW)  # a link for another purpose
    forged = [f"{contact_id + 1}.{issued}.{mac}", f"{contact_id}.{int(issued) - 1}.{mac}", f"{contact_id}.{issued}.x",
              confirm_token, "nonsense", sign_contact("another-secret-of-32-characters-xx", UNSUBSCRIBE_LINK,
                                                      contact_id, NOW)]
    for bad in forged:
        for method in ("GET", "POST"):
            response = await provider.request(method, f"/unsubscribe/{bad}", data={"List-Unsubscribe": "One-Click"}
                                              if method == "POST" else None)
            assert response.status_code == 404 and "This link does not work" in response.text, (bad, method)
    clock.move_to(NOW + timedelta(days=366, minutes=1))
    old = await provider.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert old.status_code == 404 and "more than a year old" in old.text
    assert await ledger_of(db, contact_id) == CONFIRMED

    clock.move_to(NOW + timedelta(days=365))  # within its year it still works
    assert (await provider.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})).status_code == 200
    assert await ledger_of(db, contact_id) == [*CONFIRMED, ("withdrawn", "unsubscribe")]


async def test_the_campaign_the_link_came_with_counts_it_and_no_other(provider, db, settings, station):
    dana = await subscriber(db, "dana@example.com", station.id)
    eli = await subscriber(db, "eli@example.com", station.id, name="Eli")
    danas = await sent_campaign(db, station.id, dana, "dana@example.com")
    elis = await sent_campaign(db, station.id, eli, "eli@example.com", serial=2)

    # Dana's link with Eli's recipient row: withdraws Dana, marks nobody's row
    forged = path_of(unsubscribe_url(settings, dana, elis.recipient_id))
    assert (await provider.post(forged, data={"List-Unsubscribe": "One-Click"})).status_code == 200
    assert (await recipient_row(db, elis.recipient_id)).unsubscribed_at is None

    link = path_of(unsubscribe_url(settings, dana, danas.recipient_id))
    assert (await provider.post(link, data={"List-Unsubscribe": "One-Click"})).status_code == 200
    assert (await recipient_row(db, danas.recipient_id)).unsubscribed_at == NOW
    assert await ledger_of(db, dana) == [*CONFIRMED, ("withdrawn", "unsubscribe")]
    assert await ledger_of(db, eli) == CONFIRMED
