"""From the quote in the thread to a paid deposit: the customer follows the link from the thread, pays by card (the
Stripe emulator and its signed webhook, as in tests/payments), and the lead linked to the conversation is won."""

from __future__ import annotations

from myhibachi.leads.models import Lead
from tests.inbox.quote.conftest import API
from tests.inbox.quote.test_quote import HOLD
from tests.payments.conftest import deliver, receiver, settings  # noqa: F401 - card payments on, at the emulator


async def test_the_lead_is_won_when_the_deposit_from_the_thread_is_paid(
        client, db, station, thread, admin, stripe_emulator, receiver, deliver):  # noqa: F811
    sent = (await client.post(f"{API}/conversations/{thread.id}/quote", headers=admin, json=HOLD)).json()
    token = sent["deposit_link"].split("/manage/")[1].removesuffix("/pay")
    async with db.transaction(write=False) as session:
        assert (await session.get(Lead, sent["lead_id"])).status == "quoted"

    intent = (await client.post(f"{API}/manage/{token}/payment-intent", json={"purpose": "deposit"})).json()
    paid = await stripe_emulator.browser_pays(intent["payment_intent_id"])
    delivery = await receiver.wait_for("payment_intent.succeeded", object_id=intent["payment_intent_id"])
    response = await deliver(*delivery)

    assert paid["status"] == "succeeded" and response.status_code == 200, response.text
    assert (await client.get(f"{API}/manage/{token}")).json()["status"] == "confirmed"
    async with db.transaction(write=False) as session:
        lead = await session.get(Lead, sent["lead_id"])
    assert (lead.status, lead.booking_id) == ("won", sent["booking_id"])
