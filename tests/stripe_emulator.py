"""The payment tests talk to a Stripe emulator (localstripe) on loopback, not to Stripe, and receive its webhooks.

localstripe's CLI listens on every interface, shares its state through a pickle in /tmp and reloads it at start, so
several xdist workers would see each other's data. Here each process serves localstripe's aiohttp app itself, on
127.0.0.1 and a port the kernel chooses, in a thread with its own event loop, from an empty in-memory store. The
store and the webhook targets are module globals of localstripe: one emulator per process, reset between tests.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import json
import os
import threading
import warnings
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import localstripe
import localstripe.resources
import localstripe.webhooks
import pytest
import stripe
from aiohttp import ClientSession, web

API_KEY = "sk_test_emulator"  # the emulator accepts any key starting with sk_
CALL_TIMEOUT = 10.0  # seconds a blocking call waits for the emulator's loop
_LOCALSTRIPE_DIR = os.path.dirname(localstripe.__file__)
_start_lock = threading.Lock()
_receiver_ids = itertools.count(1)
T = TypeVar("T")


def _isolate_store() -> None:
    """Keeps localstripe's store in memory: no pickle in /tmp written after each change or read at start."""
    localstripe.resources.Store.dump_to_disk = lambda self: None
    localstripe.resources.Store.try_load_from_disk = lambda self: None
    localstripe.resources.store.clear()


def _unused_app() -> web.Application:
    """localstripe's app; a fresh copy when a previous emulator froze it (an app serves one runner only).
    Its routes are plain functions, which aiohttp deprecates with a warning per route: silenced here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Bare functions are deprecated", DeprecationWarning)
        server = importlib.import_module("localstripe.server")
        if server.app.frozen:
            server = importlib.reload(server)
    return server.app


async def _serve(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


def _spawned_by_localstripe(task: asyncio.Task[Any]) -> bool:
    """Webhook deliveries (sent 1 s after the event) and delayed charge outcomes run as tasks of localstripe's."""
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and code.co_filename.startswith(_LOCALSTRIPE_DIR)


async def _cancel_localstripe_tasks() -> None:
    """So that a previous test's pending webhook is not delivered to the next test's receiver."""
    tasks = [task for task in asyncio.all_tasks() if _spawned_by_localstripe(task)]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _forget_failed_charge(payment_intent_id: str) -> None:
    """Stripe lets the customer retry a declined intent with another card; the emulator only confirms an intent
    whose latest charge is unset (a failed one keeps it in requires_payment_method), so the failed charge goes."""
    intent = localstripe.resources.PaymentIntent._api_retrieve(payment_intent_id)
    if intent.latest_charge is not None and intent.latest_charge.status == "failed":
        intent.latest_charge = None


def _is_event(event: dict[str, Any], event_type: str, object_id: str | None) -> bool:
    about = event.get("data", {}).get("object", {}).get("id")
    return event.get("type") == event_type and object_id in (None, about)


@dataclass
class WebhookReceiver:
    """An HTTP endpoint registered with the emulator as a webhook target: records every delivery, answers 200."""

    secret: str
    id: str = field(default_factory=lambda: f"receiver-{next(_receiver_ids)}")
    url: str = ""
    deliveries: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    async def _record(self, request: web.Request) -> web.Response:
        self.deliveries.append((await request.read(), dict(request.headers)))
        return web.Response()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._record)
        self._runner, port = await _serve(app)
        self.url = f"http://127.0.0.1:{port}/webhook"

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def event_types(self) -> list[str]:
        return [json.loads(body).get("type") for body, _headers in self.deliveries]

    async def wait_for(
        self,
        event_type: str,
        timeout: float = 10.0,  # noqa: ASYNC109 - rather than asyncio.timeout: the failure says what was received
        *,
        object_id: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The first delivery of an event of this type (about `object_id` if given), waiting for it: the emulator
        sends each webhook 1 s after the fact."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for body, headers in list(self.deliveries):
                if _is_event(json.loads(body), event_type, object_id):
                    return body, headers
            if loop.time() >= deadline:
                raise AssertionError(f"no {event_type} webhook within {timeout} s; received {self.event_types()}")
            await asyncio.sleep(0.05)


class StripeEmulator:
    """localstripe served on 127.0.0.1 in a background thread. Start it with `StripeEmulator.start()`."""

    _running: StripeEmulator | None = None

    def __init__(self, loop: asyncio.AbstractEventLoop, thread: threading.Thread, runner: web.AppRunner,
                 port: int) -> None:
        self._loop, self._thread, self._runner = loop, thread, runner
        self.url = f"http://127.0.0.1:{port}"
        self._receivers: list[WebhookReceiver] = []

    @classmethod
    def start(cls) -> StripeEmulator:
        """Serves a fresh emulator. One per process: localstripe keeps its state in module globals."""
        with _start_lock:
            if cls._running is not None:
                raise RuntimeError(f"a Stripe emulator already runs in this process at {cls._running.url}")
            _isolate_store()
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="stripe-emulator", daemon=True)
            thread.start()
            runner, port = asyncio.run_coroutine_threadsafe(_serve(_unused_app()), loop).result(CALL_TIMEOUT)
            cls._running = cls(loop, thread, runner, port)
            return cls._running

    def stop(self) -> None:
        """Stops serving (receivers included), then the loop, and joins the thread. Again: does nothing."""
        with _start_lock:
            if type(self)._running is not self:
                return
            self._call(self._shutdown())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(CALL_TIMEOUT)
            self._loop.close()
            type(self)._running = None

    def reset(self) -> None:
        """Forgets every Stripe object, webhook target and pending webhook, and stops the receivers."""
        self._call(self._reset())

    def webhook_receiver(self, secret: str) -> WebhookReceiver:
        """A new receiver, registered with the emulator for every event type, signed with `secret`."""
        receiver = WebhookReceiver(secret)
        self._call(self._add_receiver(receiver))
        return receiver

    def client(self, http_client: stripe.HTTPClient | None = None) -> stripe.StripeClient:
        """A Stripe SDK client pointed at the emulator. Its async calls are bound to the loop that first uses it."""
        return stripe.StripeClient(API_KEY, base_addresses={"api": self.url},
                                   http_client=http_client or stripe.HTTPXClient(), max_network_retries=0)

    async def browser_pays(self, payment_intent_id: str, payment_method: str = "pm_card_visa") -> dict[str, Any]:
        """What Stripe.js does in the customer's browser: attaches a payment method to the intent and confirms it.
        Returns the intent; a declined card leaves it in requires_payment_method with its last_payment_error."""
        http_client = stripe.HTTPXClient()
        intents = self.client(http_client).v1.payment_intents
        try:
            # The emulator answers 500 to a confirm carrying the payment method, hence update then confirm.
            await intents.update_async(payment_intent_id, params={"payment_method": payment_method})
            await self._on_loop(_forget_failed_charge(payment_intent_id))
            try:
                intent = await intents.confirm_async(payment_intent_id)
            except stripe.CardError:
                intent = await intents.retrieve_async(payment_intent_id)
        finally:
            await http_client.close_async()
        return intent.to_dict()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Runs a coroutine on the emulator's loop and waits for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(CALL_TIMEOUT)

    async def _on_loop(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Runs a coroutine on the emulator's loop and awaits its result from another loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self._loop))

    async def _add_receiver(self, receiver: WebhookReceiver) -> None:
        await receiver._start()
        self._receivers.append(receiver)
        async with ClientSession() as session:
            form = {"url": receiver.url, "secret": receiver.secret}
            async with session.post(f"{self.url}/_config/webhooks/{receiver.id}", data=form) as response:
                response.raise_for_status()

    async def _stop_receivers(self) -> None:
        await _cancel_localstripe_tasks()
        localstripe.webhooks._webhooks.clear()
        receivers, self._receivers = self._receivers, []
        await asyncio.gather(*(receiver._stop() for receiver in receivers))

    async def _reset(self) -> None:
        await self._stop_receivers()
        async with ClientSession() as session, session.delete(f"{self.url}/_config/data") as response:
            response.raise_for_status()

    async def _shutdown(self) -> None:
        await self._stop_receivers()
        await self._runner.cleanup()


def signed_event(event: dict[str, Any], secret: str, *, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    """A webhook delivery of `event` signed with `secret` (at `timestamp`, default now), as Stripe would send it."""
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
    return payload.encode(), {"Stripe-Signature": header}


@pytest.fixture(scope="session")
def stripe_emulator_server() -> Iterator[StripeEmulator]:
    """The process's Stripe emulator, started on first use."""
    emulator = StripeEmulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def stripe_emulator(stripe_emulator_server: StripeEmulator) -> StripeEmulator:
    """The Stripe emulator, emptied: no objects, webhook targets or pending webhooks left by earlier tests."""
    stripe_emulator_server.reset()
    return stripe_emulator_server
