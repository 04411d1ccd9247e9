"""The email channel (SPEC §7): an inbound raw message read (sender, threading headers, the reply without its quoted
history, its HTML made safe) and threaded into its conversation; staff's replies sent with the headers that thread
them in the customer's mail client, over SMTP, or as .eml files under MAIL_DIR while SMTP_URL is unset (like every
other email the app sends)."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime
from html.parser import HTMLParser

import aiosmtplib
import nh3
from mailparser_reply import EmailReplyParser
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.core.db import utcnow
from myhibachi.core.email import build_message, mail_transport
from myhibachi.core.errors import DomainError
from myhibachi.core.text import normalize_email
from myhibachi.inbox.channels import ChannelRefused, Outgoing, Sent, register_adapter
from myhibachi.inbox.commands import Inbound, receive
from myhibachi.inbox.models import Channel, Message
from myhibachi.newsletters.webhooks import InboxStored, receive_other_mail_with
from myhibachi.settings import Settings

MAX_ID = 255  # conversation_messages.provider_message_id / in_reply_to
MAX_SUBJECT = 200  # conversations.subject
MAX_NAME = 120  # contacts.name
MAX_REFERENCES = 50  # a thread's newest ids are the ones that match
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
REPLY_PREFIX = re.compile(r"^(?:\s*(?:re|fwd?|aw|sv)\s*(?:\[\d+\])?\s*:)+\s*", re.IGNORECASE)
UNREADABLE = (ValueError, TypeError, IndexError, KeyError, AttributeError, LookupError, UnicodeError)


class UnreadableEmail(DomainError):
    status, code = 422, "unreadable_email"


@dataclass(frozen=True)
class InboundEmail:
    """What the inbox keeps of a raw message."""

    message_id: str  # its Message-ID, or a hash of the raw bytes when it has none
    name: str
    address: str  # normalized
    subject: str | None
    in_reply_to: str | None
    references: str | None  # the ids, space-separated, oldest first
    sent_at: datetime | None  # its Date, never later than now
    body: str  # the newest reply as plain text, quoted history trimmed
    body_html: str | None  # made safe


# --- reading -----------------------------------------------------------------------------------------------------


def read_email(raw: bytes) -> InboundEmail:
    """The message's parts the inbox keeps; 422 `unreadable_email` without a sender address."""
    try:
        message = message_from_bytes(raw, policy=policy.default)
        name, address = _sender(message)
        html = _part_text(message, "html")
        text = _part_text(message, "plain") or html_to_text(html or "")
        return InboundEmail(
            message_id=_first_id(message.get("Message-ID")) or "sha256:" + hashlib.sha256(raw).hexdigest(),
            name=name, address=address, subject=_one_line(message.get("Subject"))[:MAX_SUBJECT] or None,
            in_reply_to=_first_id(message.get("In-Reply-To")),
            references=" ".join(_ids(message.get("References"))[-MAX_REFERENCES:]) or None,
            sent_at=_sent_at(message.get("Date")), body=trim_quoted(text),
            body_html=safe_html(html) if html else None)
    except UNREADABLE as error:
        raise UnreadableEmail(f"The message could not be read: {error}.") from error


def _sender(message: EmailMessage) -> tuple[str, str]:
    name, address = parseaddr(_one_line(message.get("From")))
    address = normalize_email(address)
    local, _, domain = address.rpartition("@")
    if not local or "." not in domain or len(address) > 254:
        raise UnreadableEmail("The message has no sender address (From).")
    return _one_line(name)[:MAX_NAME], address


def _one_line(value: object) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _ids(value: object) -> list[str]:
    """The Message-IDs a header names, in its order, each in the form stored (a hash past the column's length)."""
    return [mid if len(mid) <= MAX_ID else "sha256:" + hashlib.sha256(mid.encode()).hexdigest()
            for mid in MESSAGE_ID.findall(str(value or ""))]


def _first_id(value: object) -> str | None:
    return next(iter(_ids(value)), None)


def _sent_at(value: object) -> datetime | None:
    """The Date header; a sender's clock ahead of ours must not put the thread in the future."""
    try:
        sent = parsedate_to_datetime(str(value)) if value is not None else None
    except UNREADABLE:
        return None
    if sent is None:
        return None
    return min(sent if sent.tzinfo else sent.replace(tzinfo=UTC), utcnow())


def _part_text(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    try:
        return str(part.get_content())
    except UNREADABLE:  # a charset Python does not know: read what can be read
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else None


_REPLY_PARSER = EmailReplyParser(languages=["en", "es", "fr", "de"])


def trim_quoted(text: str) -> str:
    """The newest reply of a message: the history under "On … wrote:", "-----Original Message-----" and the like
    (mail-parser-reply), and a bottom block of "> " lines, cut off. Signatures stay: staff may want the phone."""
    reply = _REPLY_PARSER.parse_reply(text) or ""
    lines = reply.splitlines()
    while lines and (lines[-1].startswith(">") or not lines[-1].strip()):
        lines.pop()
    return "\n".join(lines).strip() or text.strip()


class _HtmlText(HTMLParser):
    """Text of an HTML part: a line per block, no script, style or quoted (blockquote) history."""

    SKIPPED = frozenset({"script", "style", "head", "title", "blockquote"})
    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, _attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _safe_url(tag: str, attribute: str, value: str) -> str | None:
    """No remote images (a tracking pixel tells the sender when staff read it): an <img> keeps only an attached
    (cid:) or inline (data:image/) source; data: and cid: URLs nowhere else (a data:text/html link runs script)."""
    lowered = value.strip().lower()
    if tag == "img" and attribute == "src":
        return value if lowered.startswith(("cid:", "data:image/")) else None
    return None if lowered.startswith(("data:", "cid:")) else value


_CLEANER = nh3.Cleaner(clean_content_tags={"script", "style", "title"}, attribute_filter=_safe_url,
                       url_schemes=nh3.ALLOWED_URL_SCHEMES | {"cid", "data"}, link_rel="noopener noreferrer")


def safe_html(html: str) -> str | None:
    """The HTML part as staff may see it: nh3's allow-list (no script, event handlers, styles or forms), links
    opened without the opener or referrer, no remote images."""
    return _CLEANER.clean(html).strip() or None


# --- receiving ---------------------------------------------------------------------------------------------------


async def thread_of(session: AsyncSession, email: InboundEmail) -> int | None:
    """The conversation of the newest message this one answers that we have (received, or sent by us: our
    Message-ID is the provider id of our reply): In-Reply-To first, then References from the newest."""
    named = [mid for mid in [email.in_reply_to, *reversed((email.references or "").split())] if mid]
    if not named:
        return None
    rows = await session.execute(select(Message.provider_message_id, Message.conversation_id).where(
        Message.channel == Channel.email.value, Message.provider_message_id.in_(named)))
    found = {provider_id: conversation_id for provider_id, conversation_id in rows}
    return next((found[mid] for mid in named if mid in found), None)


async def receive_email(session: AsyncSession, raw: bytes) -> InboxStored | None:
    """A raw message into the inbox, once per Message-ID (None: stored before). A reply joins the thread it
    answers, at that thread's station; any other message joins its sender's email thread (a new sender: a contact
    and a lead). Auto-replies (out of office) are stored like any message: staff see them in the thread."""
    email = read_email(raw)
    received = await receive(session, Inbound(
        channel=Channel.email, provider_message_id=email.message_id, body=email.body or "(no text)",
        name=email.name, email=email.address, body_html=email.body_html, subject=email.subject,
        in_reply_to=email.in_reply_to, references=email.references,
        conversation_id=await thread_of(session, email), at=email.sent_at))
    if received is None:
        return None
    return InboxStored(conversation_id=received.conversation.id, message_id=received.message.id)


receive_other_mail_with(receive_email)


# --- sending -----------------------------------------------------------------------------------------------------


def reply_subject(subject: str | None, settings: Settings) -> str:
    """"Re: " once, whatever prefixes the thread's subject had gathered."""
    base = REPLY_PREFIX.sub("", _one_line(subject)) or f"Your message to {settings.brand_name}"
    return f"Re: {base}"


def our_message_id(settings: Settings, message_id: int) -> str:
    """The Message-ID of our message `message_id`: the same on a retried send (a receiving server may drop the
    copy), keyed so that another install's ids never match ours."""
    digest = hmac.new(settings.secret_key.encode(), f"inbox-email:{message_id}".encode(), "sha256").hexdigest()
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "myhibachi.local"
    return f"<inbox.{message_id}.{digest[:20]}@{domain}>"


def reply_email(settings: Settings, outgoing: Outgoing) -> EmailMessage:
    headers = {"In-Reply-To": outgoing.in_reply_to, "References": outgoing.references}
    return build_message(sender=settings.mail_from, to=outgoing.to, subject=reply_subject(outgoing.subject, settings),
                         text=outgoing.body, message_id=our_message_id(settings, outgoing.message_id),
                         headers={name: value for name, value in headers.items() if value})


class EmailAdapter:
    """Sends through the app's mail transport. A permanent refusal of the address (5xx) is final; a temporary one
    (4xx), or a server out of reach, is retried by the outbox."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.transport = mail_transport(settings.smtp_url, settings.mail_dir)

    async def send(self, message: Outgoing) -> Sent:
        email = reply_email(self.settings, message)
        try:
            await self.transport.send(email)
        except aiosmtplib.SMTPRecipientsRefused as refused:
            if all(recipient.code >= 500 for recipient in refused.recipients):
                raise ChannelRefused(f"The mail server refused {message.to}: {refused.recipients[0].message}") \
                    from refused
            raise
        return Sent(str(email["Message-ID"]))


register_adapter(Channel.email, lambda context: EmailAdapter(context.settings))
