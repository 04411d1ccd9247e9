"""Texts through Twilio (SPEC §7 "Inbox"): the outbound adapter (the official SDK's REST client, pointed at
TWILIO_API_BASE when set), and what a received text means besides itself — Twilio's own opt-out and opt-in keywords
write the consent ledger, HELP is answered with who we are, and a stop request in other words is flagged for a
person to confirm."""

from __future__ import annotations

import re
from enum import StrEnum

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.consent.commands import record_consent
from myhibachi.consent.models import ConsentAction, ConsentChannel, ConsentPurpose, ConsentSource
from myhibachi.inbox import commands
from myhibachi.inbox.channels import ChannelRefused, Outgoing, Sent, register_adapter
from myhibachi.inbox.commands import Inbound, Received
from myhibachi.inbox.models import Channel, ConversationLabel
from myhibachi.settings import Settings
from myhibachi.stations.models import Station

STATUS_CALLBACK_PATH = "/api/v1/webhooks/twilio/status"
SEND_TIMEOUT_SECONDS = 20.0
TOO_MANY_REQUESTS = 429  # a 4xx that passes: the outbox tries again later
log = structlog.get_logger(__name__)


# --- sending ---------------------------------------------------------------------------------------------------


class TwilioSms:
    """Sends a text from TWILIO_FROM with the SDK's asyncio client. Twilio's 4xx (21211 not a valid number, 21610
    the person texted STOP…) refuses the message for good; a 5xx or a connection error is raised as it is, so the
    outbox tries again."""

    def __init__(self, settings: Settings, account_sid: str, auth_token: str, sender: str) -> None:
        self.account_sid, self.auth_token, self.sender = account_sid, auth_token, sender
        self.api_base = settings.twilio_api_base
        self.status_callback = settings.base_url.rstrip("/") + STATUS_CALLBACK_PATH

    async def send(self, message: Outgoing) -> Sent:
        # Here, not at the top: ~18 MB that a process sending no texts never loads.
        from twilio.base.exceptions import TwilioRestException
        from twilio.http.async_http_client import AsyncTwilioHttpClient
        from twilio.rest import Client

        async with AsyncTwilioHttpClient(timeout=SEND_TIMEOUT_SECONDS) as http:
            client = Client(self.account_sid, self.auth_token, http_client=http)
            if self.api_base:
                client.api.base_url = self.api_base
            try:
                created = await client.messages.create_async(
                    to=message.to, from_=self.sender, body=message.body, status_callback=self.status_callback)
            except TwilioRestException as exc:
                if exc.status < 500 and exc.status != TOO_MANY_REQUESTS:
                    raise ChannelRefused(f"Twilio refused the text (error {exc.code}): {exc.msg}") from exc
                raise
        return Sent(str(created.sid))


def twilio_adapter(settings: Settings) -> TwilioSms | None:
    """The SMS channel is on once the account, its token and the number to send from are all set."""
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else None
    if not (settings.twilio_account_sid and token and settings.twilio_from):
        return None
    return TwilioSms(settings, settings.twilio_account_sid, token, settings.twilio_from)


register_adapter(Channel.sms, lambda context: twilio_adapter(context.settings))


# --- receiving -------------------------------------------------------------------------------------------------


class Keyword(StrEnum):
    """What Twilio's messaging service itself does with a one-word text (its default opt-out handling): we keep
    the consent ledger in step with what Twilio will and will not let through."""

    stop = "stop"
    start = "start"
    help = "help"


KEYWORDS = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"), Keyword.stop),
    **dict.fromkeys(("START", "YES", "UNSTOP"), Keyword.start),
    **dict.fromkeys(("HELP", "INFO"), Keyword.help),
}
OPT_OUT_LABEL = "opt-out?"  # a person reads the text and decides: only the keywords withdraw by themselves
# A stop request in the person's own words: "please stop texting me", "don't text me", "remove me from your list".
STOP_REQUEST = re.compile(
    r"^\s*stop\b|\bstop (texting|messaging|sending|contacting)\b|\b(don'?t|do not|no more) (text|messag|contact)"
    r"|\bremove me\b|\btake me off\b|\bunsubscribe\b|\bopt(-| )?out\b", re.IGNORECASE)


def keyword_of(body: str) -> Keyword | None:
    """The keyword a text is, if the whole of it (trimmed, in any case) is one."""
    return KEYWORDS.get(body.strip().upper())


def asks_to_stop(body: str) -> bool:
    return keyword_of(body) is None and STOP_REQUEST.search(body) is not None


async def receive_text(session: AsyncSession, inbound: Inbound) -> Received | None:
    """A text stored in the sender's SMS thread (once per MessageSid: None for a redelivery), then its keyword or
    stop request acted on."""
    received = await commands.receive(session, inbound)
    if received is not None:
        await act_on_text(session, received)
    return received


async def act_on_text(session: AsyncSession, received: Received) -> Keyword | None:
    """STOP and its synonyms withdraw SMS marketing, START / YES / UNSTOP grant and confirm it (the person texted
    it: that is their confirmation), HELP / INFO queue an answer; a stop request in other words labels the thread
    `opt-out?` for a person. The text itself stays in the thread either way."""
    conversation, body = received.conversation, received.message.body
    keyword = keyword_of(body)
    if keyword == Keyword.stop:
        await _record_sms_consent(session, received, ConsentAction.withdrawn)
    elif keyword == Keyword.start:
        await _record_sms_consent(session, received, ConsentAction.granted)
        await _record_sms_consent(session, received, ConsentAction.confirmed)
    elif keyword == Keyword.help:
        await commands.send_system_message(session, conversation.id, await _help_text(session, conversation.station_id))
    elif asks_to_stop(body):
        await _label(session, conversation.id, OPT_OUT_LABEL)
    return keyword


async def _record_sms_consent(session: AsyncSession, received: Received, action: ConsentAction) -> None:
    word = received.message.body.strip().upper()
    await record_consent(session, received.conversation.contact_id, action, ConsentSource.sms_keyword,
                         channel=ConsentChannel.sms, purpose=ConsentPurpose.marketing,
                         station_id=received.conversation.station_id,
                         detail=f"texted {word} ({received.message.provider_message_id})")
    log.info("sms_consent", action=action.value, contact_id=received.conversation.contact_id)


async def _help_text(session: AsyncSession, station_id: int) -> str:
    station = await session.get(Station, station_id)
    name = station.name if station is not None else "Hibachi catering"
    return (f"{name}: texts about your hibachi party. Reply with your question and we will answer here. "
            "Reply STOP to stop texts, START to get them again. Msg & data rates may apply.")


async def _label(session: AsyncSession, conversation_id: int, label: str) -> None:
    if await session.get(ConversationLabel, (conversation_id, label)) is None:
        session.add(ConversationLabel(conversation_id=conversation_id, label=label))
        await session.flush()
