"""How to pay, repeated wherever the customer looks while their date is held: the "we're holding your date" email,
the confirmation page and the manage page each show the amount due now, the deadline (the hold's expiry) in the
station's time with its zone, each manual method's handle to copy and the reference for the memo, and the card
button only when card payments are configured. All of it comes from one query (`payments.queries.payment_options`),
so the API's `payment-options` must agree with what is shown."""

from __future__ import annotations

import html
import re
from email.message import EmailMessage

import pytest

from myhibachi.settings import Settings
from tests.conftest import read_mails
from tests.payments.conftest import API
from tests.web.browserless import Page, read

# The booking fixtures' clock: 2026-12-01 16:00 UTC, a 24 h hold, Fremont (America/Los_Angeles, UTC-8 in December).
DEADLINE = "Wednesday, December 2, 2026 at 8:00 AM PST"
ZELLE, VENMO = "payments@myhibachi.local", "@MyHibachi"  # the settings' default handles


def text_of(page: Page) -> str:
    """The page's text as read: tags gone, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


def copyable_fields(page: Page) -> dict[str, str]:
    """The read-only fields a customer copies from: {id: value}."""
    fields = {}
    for tag in re.findall(r"<input [^>]*readonly[^>]*>", page.text):
        fields[re.search(r'id="([^"]+)"', tag).group(1)] = html.unescape(re.search(r'value="([^"]*)"', tag).group(1))
    return fields


def received_email(settings: Settings, reference: str) -> EmailMessage:
    [mail] = [m for m in read_mails(settings) if m["Subject"] == f"We're holding your date — {reference}"]
    return mail


def parts(mail: EmailMessage) -> tuple[str, str]:
    return (mail.get_body(preferencelist=("plain",)).get_content(),
            mail.get_body(preferencelist=("html",)).get_content())


async def confirmation_page(client, booking: dict) -> Page:  # noqa: ANN001
    """The page after booking, as the browser that booked sees it (its cookie holds the manage token)."""
    client.cookies.set("mh_booking", booking["manage_token"], path="/bookings/")
    response = await client.get(f"/bookings/{booking['reference']}/confirmed")
    assert response.status_code == 200, response.text
    return read(response)


async def manage_page(client, booking: dict) -> Page:  # noqa: ANN001
    response = await client.get(f"/manage/{booking['manage_token']}")
    assert response.status_code == 200, response.text
    return read(response)


def assert_instructions_on(page: Page, reference: str) -> None:
    words = text_of(page)
    assert f"Due now: $100.00 — pay the deposit by {DEADLINE}" in words, words
    assert copyable_fields(page) == {"handle-zelle": ZELLE, "handle-venmo": VENMO, "memo-reference": reference}
    assert f"Send $100.00 by Zelle to {ZELLE} and write {reference} in the memo." in words
    assert f"Send $100.00 by Venmo to {VENMO} and write {reference} in the note." in words
    # The copy buttons are there for the script to reveal; without it the fields are still there to select.
    assert page.text.count('data-copy="handle-') == 2 and "js/copy." in page.text
    assert "You're booked!" not in words


# --- the email ----------------------------------------------------------------------------------------------------


async def test_the_holding_email_says_how_much_by_when_where_and_with_which_reference(client, station, book,
                                                                                       settings):
    booking = await book(station.id)
    text, body = parts(received_email(settings, booking["reference"]))
    link = f"http://testserver/manage/{booking['manage_token']}"

    assert "How to pay the deposit" in text and "Amount due now: $100.00" in text
    assert f"Pay by: {DEADLINE}" in text
    assert f"- Send $100.00 by Zelle to {ZELLE} and write {booking['reference']} in the memo." in text
    assert f"- Send $100.00 by Venmo to {VENMO} and write {booking['reference']} in the note." in text
    assert f"Or pay by card: {link}/pay" in text  # card payments are configured here (the Stripe emulator)
    assert f"Sent it? Tell us, so we look out for it: {link}" in text
    assert "you are confirmed" not in text.lower() and "booked!" not in text  # not paid, so not booked yet

    assert f">{ZELLE}</code>" in body and f">{VENMO}</code>" in body
    assert f"Pay by: <strong>{DEADLINE}</strong>" in body and f"<strong>{booking['reference']}</strong>" in body
    assert f'href="{link}/pay"' in body


@pytest.mark.no_stripe
async def test_without_card_payments_the_email_offers_no_card(client, station, book, settings):
    booking = await book(station.id)
    text, body = parts(received_email(settings, booking["reference"]))

    assert f"Pay by: {DEADLINE}" in text and ZELLE in text
    assert "by card" not in text and "/pay" not in text and "/pay" not in body


# --- the pages ----------------------------------------------------------------------------------------------------


async def test_the_confirmation_page_repeats_the_instructions_and_offers_the_card(client, station, book):
    booking = await book(station.id)
    page = await confirmation_page(client, booking)

    assert_instructions_on(page, booking["reference"])
    assert "Your date is held" in text_of(page)
    assert [f.action for f in page.forms] == [f"/manage/{booking['manage_token']}/pay/card",
                                              f"/manage/{booking['manage_token']}/payment-sent"]
    assert "Pay $100.00 by card" in page.text


async def test_the_manage_page_repeats_the_instructions(client, station, book):
    booking = await book(station.id)
    page = await manage_page(client, booking)

    assert_instructions_on(page, booking["reference"])
    assert "Pay $100.00 by card" in page.text
    assert ("Sent it? Tell us, so we look out for it" in text_of(page)
            and "I've sent it" in text_of(page).replace("&#39;", "'"))


@pytest.mark.no_stripe
async def test_without_card_payments_no_page_offers_the_card(client, station, book):
    booking = await book(station.id)
    pages = [await confirmation_page(client, booking), await manage_page(client, booking)]

    for page in pages:
        assert_instructions_on(page, booking["reference"])
        assert "by card" not in page.text and "/pay/card" not in page.text


async def test_the_api_gives_what_the_pages_show(client, station, book):
    booking = await book(station.id)
    options = (await client.get(f"{API}/manage/{booking['manage_token']}/payment-options")).json()

    assert options["reference"] == booking["reference"] and options["due_now_cents"] == 10000
    assert options["due_by"] == booking["deposit_due_by"] == "2026-12-02T08:00:00-08:00"
    assert options["due_by_text"] == DEADLINE and options["timezone"] == "America/Los_Angeles"
    assert [(m["label"], m["handle"]) for m in options["manual"]] == [("Zelle", ZELLE), ("Venmo", VENMO)]
    assert options["can_report_sent"] is True and options["sent"] == []


async def test_the_deposit_page_no_longer_says_done_before_anything_is_paid(client, station, book):
    booking = await book(station.id)
    page = read(await client.get(f"/manage/{booking['manage_token']}/pay"))
    words = text_of(page)

    assert "Done" not in words and "See my booking" in words
    assert f"Your date is held for you until {DEADLINE}" in words
    assert copyable_fields(page)["handle-zelle"] == ZELLE


async def test_a_confirmed_booking_shows_no_deposit_instructions(client, station, book, admin):
    booking = await book(station.id)
    paid = await client.post(f"{API}/bookings/{booking['id']}/payments", headers=admin,
                             json={"method": "zelle", "amount_cents": 10000, "reference": "ZL-1"})
    assert paid.status_code == 201, paid.text

    confirmation, manage = await confirmation_page(client, booking), await manage_page(client, booking)

    assert "You're booked!" in confirmation.text
    for page in (confirmation, manage):
        assert "Paying your deposit" not in page.text and "payment-sent" not in page.text
        assert copyable_fields(page) == {}


# --- the settings -------------------------------------------------------------------------------------------------


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Parametrized indirectly, a test runs with those settings changed."""
    return settings.model_copy(update=getattr(request, "param", {}))


@pytest.mark.no_stripe
@pytest.mark.parametrize("settings", [{"zelle_handle": "pay@acme-hibachi.example", "venmo_handle": "",
                                       "zelle_instructions": "The name shown is Acme Hibachi LLC."}], indirect=True)
async def test_the_handles_come_from_settings_and_an_empty_one_is_not_offered(client, station, book, settings):
    booking = await book(station.id)
    page = await manage_page(client, booking)
    text, _ = parts(received_email(settings, booking["reference"]))

    assert copyable_fields(page) == {"handle-zelle": "pay@acme-hibachi.example",
                                     "memo-reference": booking["reference"]}
    sentence = (f"Send $100.00 by Zelle to pay@acme-hibachi.example and write {booking['reference']} in the memo. "
                "The name shown is Acme Hibachi LLC.")
    assert sentence in text_of(page) and sentence in text
    assert "Venmo" not in text_of(page) and "Venmo" not in text


def test_an_older_install_keeps_its_written_instructions_without_our_placeholder_handle():
    older = Settings(_env_file=None, secret_key="k" * 40,  # type: ignore[call-arg]
                     zelle_instructions="Zelle to owner@example.com, memo: your reference.")
    both = Settings(_env_file=None, secret_key="k" * 40, zelle_instructions="Memo: your reference.",  # type: ignore[call-arg]
                    zelle_handle="owner@example.com")
    assert (older.zelle_handle, older.venmo_handle) == ("", VENMO)
    assert both.zelle_handle == "owner@example.com"


@pytest.mark.no_stripe
@pytest.mark.parametrize("settings", [{"zelle_handle": "",
                                       "zelle_instructions": "Zelle to owner@example.com, memo: your reference."}],
                         indirect=True)
async def test_written_instructions_are_shown_as_written(client, station, book):
    booking = await book(station.id)
    page = await manage_page(client, booking)

    assert "Zelle to owner@example.com, memo: your reference." in text_of(page)
    assert "handle-zelle" not in copyable_fields(page) and copyable_fields(page)["handle-venmo"] == VENMO
