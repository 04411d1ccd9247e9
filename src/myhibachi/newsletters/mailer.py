"""Handing campaign mail to the mail server so that a message is recorded `sent` exactly when the server will have
it: over long-lived SMTP connections (aiosmtplib), or, with SMTP_URL unset, as .eml files (the embedded default).

SMTP: MAIL, RCPT, DATA and the whole dot-stuffed message are written, then the caller commits the recipient as
`sent`, and only then the end-of-data "." goes out. A server discards a message whose DATA never ended, so if the
process dies anywhere before the commit nothing was delivered, and the row (still claimed, not `sent`) is safely
sent again later; after the commit the only step left is one write of three bytes, with no waiting in between. If
the commit fails, or finds the claim taken by another worker, the connection is dropped before the dot.

Files: the file is named by the Message-ID, which is fixed per recipient, so writing it again (a crash between
the write and the commit) replaces it: still one message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
import structlog
from aiosmtplib.protocol import PERIOD_REGEX

from myhibachi.core.email import MailTransport, SmtpMailTransport

log = structlog.get_logger(__name__)
SMTP_READY_FOR_DATA = 354
SMTP_OK = 250
SMTP_WILL_FORWARD = 251

# Records the recipient as sent, in a committed transaction; False: it must not go (another worker took it).
Commit = Callable[[], Awaitable[bool]]


class Refused(Exception):
    """The server refused the message: for good (5xx) or for now (4xx). Before the dot: nothing was delivered; in
    answer to the dot: the server did not take it."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}".strip())
        self.code = code

    @property
    def permanent(self) -> bool:
        return self.code >= 500


class Unreachable(Exception):
    """The connection failed or was lost before the message was complete: nothing was delivered."""


@dataclass(frozen=True)
class Outgoing:
    """One message ready for the wire: its envelope and its whole text as SMTP carries it (MIME with CRLF line ends,
    ending in CRLF; not yet dot-stuffed). `sending.Letter.message_for` writes the bytes directly, at a fraction of
    EmailMessage + flatten's cost."""

    sender: str  # envelope addresses
    recipient: str
    data: bytes

    def as_message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


class Delivery(Protocol):
    async def deliver(self, message: Outgoing, commit: Commit) -> bool:
        """True once the message is handed over and `commit` said so; False if `commit` said it must not go."""
        ...

    async def close(self) -> None: ...


class SmtpConnection:
    """One long-lived connection of the pool, (re)connected when needed; one message at a time."""

    def __init__(self, transport: SmtpMailTransport) -> None:
        self.settings = transport
        self.smtp: aiosmtplib.SMTP | None = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self.smtp is None or not self.smtp.is_connected:
            t = self.settings
            smtp = aiosmtplib.SMTP(hostname=t.hostname, port=t.port, use_tls=t.use_tls, start_tls=t.start_tls,
                                   timeout=t.timeout)
            await smtp.connect()
            if t.username and t.password:
                await smtp.login(t.username, t.password)
            if smtp.is_ehlo_or_helo_needed:  # _start_data's commands are sent as they are
                await smtp.ehlo()
            self.smtp = smtp
        return self.smtp

    def _drop(self) -> None:
        """Close at once, without the dot or QUIT: the server discards any unfinished message."""
        if self.smtp is not None:
            self.smtp.close()
        self.smtp = None

    async def _start_data(self, smtp: aiosmtplib.SMTP, message: Outgoing) -> None:
        """MAIL, RCPT, DATA and the message without its final dot. The commands are written as they are (aiosmtplib's
        mail() and rcpt() parse each address again: a tenth of a campaign's CPU)."""
        data = message.data
        sender, recipient = _envelope_address(message.sender), _envelope_address(message.recipient)
        eight_bit = not data.isascii() and smtp.supports_extension("8BITMIME")
        await _command(smtp, (SMTP_OK,), b"MAIL", b"FROM:" + sender, *([b"BODY=8BITMIME"] if eight_bit else []))
        await _command(smtp, (SMTP_OK, SMTP_WILL_FORWARD), b"RCPT", b"TO:" + recipient)
        await _command(smtp, (SMTP_READY_FOR_DATA,), b"DATA")
        # What aiosmtplib's own data() writes, less the ".\r\n" it appends: that comes after the commit.
        smtp.protocol.write(PERIOD_REGEX.sub(b"..", data))

    async def deliver(self, message: Outgoing, commit: Commit) -> bool:
        try:
            smtp = await self._connected()
            await self._start_data(smtp, message)
        except aiosmtplib.SMTPResponseException as refusal:  # MAIL, RCPT or DATA refused: the envelope is reset
            await self._reset()
            raise Refused(refusal.code, refusal.message) from None
        except (aiosmtplib.SMTPException, OSError) as failure:
            self._drop()
            raise Unreachable(str(failure) or type(failure).__name__) from None
        try:
            go = await commit()
        except BaseException:
            self._drop()
            raise
        if not go:
            self._drop()
            return False
        return await self._end_data()

    async def _end_data(self) -> bool:
        assert self.smtp is not None and self.smtp.protocol is not None
        protocol = self.smtp.protocol
        try:
            protocol.write(b".\r\n")
            reply = await protocol.read_response(timeout=self.settings.timeout)
        except (aiosmtplib.SMTPException, OSError) as lost:
            # The dot was written but no answer came: the server may well have the message. Sending it again could
            # make two, so it stays `sent` (at most once in this one case).
            log.warning("newsletter_reply_lost", error=str(lost) or type(lost).__name__)
            self._drop()
            return True
        if reply.code != SMTP_OK:
            raise Refused(reply.code, reply.message)
        return True

    async def _reset(self) -> None:
        try:
            if self.smtp is not None:
                await self.smtp.rset()
        except (aiosmtplib.SMTPException, OSError):
            self._drop()

    async def close(self) -> None:
        if self.smtp is not None and self.smtp.is_connected:
            try:
                await self.smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                self._drop()
        self.smtp = None


def _envelope_address(address: str) -> bytes:
    """`<address>` for MAIL FROM or RCPT TO; one that could break the command line is refused for good."""
    if not (address.isascii() and address.isprintable()) or any(c in address for c in " <>"):
        raise Refused(553, f"not a deliverable address: {address!r}")
    return f"<{address}>".encode()


async def _command(smtp: aiosmtplib.SMTP, expected: tuple[int, ...], *words: bytes) -> None:
    reply = await smtp.execute_command(*words)
    if reply.code not in expected:
        raise aiosmtplib.SMTPResponseException(reply.code, reply.message)


class TransportDelivery:
    """Any other transport (the embedded default writes .eml files named by the Message-ID): handed over, then
    committed; a crash in between writes the same file again, not a second message."""

    def __init__(self, transport: MailTransport) -> None:
        self.transport = transport

    async def deliver(self, message: Outgoing, commit: Commit) -> bool:
        try:
            await self.transport.send(message.as_message())
        except OSError as failure:
            raise Unreachable(str(failure)) from None
        return await commit()

    async def close(self) -> None:
        return None


def delivery_pool(transport: MailTransport, size: int) -> list[Delivery]:
    """`size` connections to the SMTP server of SMTP_URL, or the one file writer."""
    if isinstance(transport, SmtpMailTransport):
        return [SmtpConnection(transport) for _ in range(size)]
    return [TransportDelivery(transport)]
