"""What the SMS tests share: a stand-in for Twilio's REST API on loopback (aiohttp, port 0) that records what the
SDK posted and answers as Twilio does, the test settings pointing the SDK at it, and Twilio's own request signing
for the webhooks."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from httpx import AsyncClient, Response
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from myhibachi.settings import Settings

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-test-auth-token-0123456789"  # noqa: S105 - signs the tests' own webhook requests
SENDER = "+15005550006"
CUSTOMER = "+15105550100"
SMS_PATH = "/api/v1/webhooks/twilio/sms"
STATUS_PATH = "/api/v1/webhooks/twilio/status"
PUBLIC_BASE = "http://testserver"  # the settings fixture's BASE_URL: what Twilio would have called


@dataclass
class TwilioCall:
    path: str
    form: dict[str, str]
    authorization: str | None


@dataclass
class FakeTwilio:
    """Twilio's Messages resource on 127.0.0.1: each create is recorded; `refuse_next` makes the next answer an
    error as Twilio words it (e.g. 400 / 21211)."""

    url: str = ""
    calls: list[TwilioCall] = field(default_factory=list)
    errors: list[tuple[int, int, str]] = field(default_factory=list)
    sids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def refuse_next(self, status: int, code: int, message: str) -> None:
        self.errors.append((status, code, message))

    async def create_message(self, request: web.Request) -> web.Response:
        form = {key: value for key, value in (await request.post()).items() if isinstance(value, str)}
        self.calls.append(TwilioCall(request.path, form, request.headers.get("Authorization")))
        if self.errors:
            status, code, message = self.errors.pop(0)
            return web.json_response({"code": code, "message": message, "status": status,
                                      "more_info": f"https://www.twilio.com/docs/errors/{code}"}, status=status)
        sid = f"SM{next(self.sids):032x}"
        return web.json_response({"sid": sid, "account_sid": request.match_info["account"], "status": "queued",
                                  "to": form.get("To"), "from": form.get("From"), "body": form.get("Body"),
                                  "direction": "outbound-api", "num_segments": "1"}, status=201)


@pytest.fixture
async def fake_twilio() -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio()
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", fake.create_message)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}"
    yield fake
    await runner.cleanup()


@pytest.fixture
def settings(settings: Settings, fake_twilio: FakeTwilio) -> Settings:
    """The SMS channel on, its REST calls going to the loopback stand-in."""
    return settings.model_copy(update={
        "twilio_account_sid": ACCOUNT_SID, "twilio_auth_token": SecretStr(AUTH_TOKEN), "twilio_from": SENDER,
        "twilio_api_base": fake_twilio.url})


def signed(path: str, params: dict[str, str], token: str = AUTH_TOKEN) -> dict[str, str]:
    """The header Twilio sends, computed by the SDK's own validator over the public URL and the form."""
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(PUBLIC_BASE + path, params)}


def inbound_form(sid: str, body: str, phone: str = CUSTOMER) -> dict[str, str]:
    """The fields Twilio posts for an inbound text (the ones that matter, and some that do not)."""
    return {"MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT_SID, "From": phone, "To": SENDER,
            "Body": body, "NumMedia": "0", "FromCity": "FREMONT", "FromState": "CA"}


async def text_in(client: AsyncClient, sid: str, body: str, phone: str = CUSTOMER, **extra: Any) -> Response:
    """A text as Twilio delivers it: the form, signed."""
    form = inbound_form(sid, body, phone)
    return await client.post(SMS_PATH, data=form, headers={**signed(SMS_PATH, form), **extra})
