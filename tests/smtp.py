"""A real SMTP server on loopback for the tests (aiosmtpd), and what it received."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class EphemeralPortController(Controller):
    """Listens on port 0 and learns the port the kernel chose. (A port found free and bound later can be taken
    in between, e.g. by another xdist worker doing the same.)"""

    def _trigger_server(self) -> None:  # aiosmtpd calls it once listening, before connecting to self.port
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class SmtpServer:
    """What the loopback SMTP server received: parsed messages, envelopes and AUTH logins."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    received: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=5"

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        with self.received:
            self.envelopes.append(envelope)
            self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
            self.received.notify_all()
        return "250 Message accepted for delivery"

    def wait_for_messages(self, count: int, seconds: float = 5.0) -> bool:
        """Blocks (call it in a thread) until `count` messages arrived or the time is up."""
        with self.received:
            return self.received.wait_for(lambda: len(self.messages) >= count, seconds)

    def authenticate(self, _server: Any, _session: Any, _envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword), mechanism
        login = (auth_data.login.decode(), auth_data.password.decode())
        self.logins.append(login)
        return AuthResult(success=login == ("mailer", "s3cret/p@ss"), handled=False)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """aiosmtpd on 127.0.0.1 (a free port), accepting AUTH without TLS for user `mailer`."""
    server = SmtpServer()
    controller = EphemeralPortController(server, hostname="127.0.0.1", port=0, ready_timeout=5,
                                         authenticator=server.authenticate, auth_require_tls=False)
    controller.start()
    server.port = controller.port
    try:
        yield server
    finally:
        controller.stop()
