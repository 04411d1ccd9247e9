"""Kill -9 (issue 21, item 6): booking flows that pay by card while app, worker and Redis processes die at random.

Run: .venv/bin/python benchmarks/chaos.py [flows]   (default 1000)
Needs PostgreSQL at postgresql+asyncpg://postgres@127.0.0.1:5432/ (or BENCH_PG_URL) and `redis-server` on the PATH.
Everything it starts listens on 127.0.0.1 and is stopped at the end (also on failure or after RUN_TIMEOUT): a
throwaway database, a Redis of its own on a free port, the Stripe emulator (in this process, as the tests serve it)
whose webhooks are relayed to the apps with retries (as Stripe retries them), an SMTP sink, 2 app processes (uvicorn)
and 2 `myhibachi worker` processes. Each flow quotes, books (an Idempotency-Key, retried on lost connections and
5xx as a real client would), starts the deposit's PaymentIntent and pays it at the emulator; several flows share
each date and slot, so some are refused with 409 (not an error). Meanwhile a process is SIGKILLed every 1–3 s and
restarted, and Redis once. Then, once everything has settled, it checks from the database and the sink: no booking
lost, no slot over capacity, one payment row per intent, every queued email received under one Message-ID; prints
a summary and exits 1 on any violation (2 if flows were still running after CHAOS_FLOWS_TIMEOUT, 900 s). Not a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from _serving import HOST, Servers, app_env, free_port, local_url, throwaway_database, wait_ready
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' emulators, reused rather than copied
from myhibachi.bookings.models import Booking  # noqa: E402
from myhibachi.chefs.models import EVERY_WEEKDAY, Chef  # noqa: E402
from myhibachi.core.db import Database  # noqa: E402
from myhibachi.core.email import SEND_EMAIL_TOPIC  # noqa: E402
from myhibachi.core.outbox import MAX_ATTEMPTS, OutboxMessage  # noqa: E402
from myhibachi.payments.models import Payment, PaymentStatus, StripeEvent  # noqa: E402
from myhibachi.stations.commands import ensure_station  # noqa: E402
from myhibachi.stations.schemas import Address, StationCreate  # noqa: E402
from tests.smtp import EphemeralPortController, SmtpServer  # noqa: E402
from tests.stripe_emulator import API_KEY, StripeEmulator, WebhookReceiver  # noqa: E402

API = "/api/v1"
ZONE = "America/Los_Angeles"
WEBHOOK_SECRET = "whsec_chaos"  # noqa: S105 - the emulator's, on loopback
CONCURRENCY = 20  # flows at a time
CHEFS = 3  # per slot: 3 live bookings fit one date and slot
SLOTS = ("12:00", "18:00")  # windows that do not overlap: each slot's capacity is its own
FLOWS_PER_DAY = 9  # for 2 x 3 places: a third of the flows are refused
APPS, WORKERS = 2, 2
KILL_EVERY = (1.0, 3.0)  # seconds between kills
CALL_DEADLINE = 120.0  # seconds a client keeps retrying one request
# Bounds: flows still running after FLOWS_TIMEOUT (a machine busy with other work) are stopped and counted as
# unfinished; the checks then cover the flows that finished.
FLOWS_TIMEOUT = float(os.environ.get("CHAOS_FLOWS_TIMEOUT", 900))
SETTLE_TIMEOUT = 240.0  # seconds for the outbox and the webhooks to drain once the chaos stops
RUN_TIMEOUT = FLOWS_TIMEOUT + SETTLE_TIMEOUT + 300  # the whole run, set-up and checks included
SEED = int(os.environ.get("CHAOS_SEED", time.time_ns() % 1_000_000))
RNG = random.Random(SEED)  # noqa: S311 - when and whom to kill; CHAOS_SEED replays a run's choices


class Failed(Exception):
    """A flow's request that did not get a usable answer within CALL_DEADLINE."""


@dataclass
class Flow:
    n: int
    day: str
    slot: str
    email: str
    outcome: str = "pending"  # paid | refused | failed: ...
    booking_id: int | None = None
    reference: str | None = None
    intent_id: str | None = None
    finished_at: float = 0.0


@dataclass
class Tally:
    statuses: Counter[str] = field(default_factory=Counter)  # unexpected answers: "500 POST /bookings"
    retries: int = 0
    kills: Counter[str] = field(default_factory=Counter)
    webhooks_relayed: int = 0
    webhooks_lost: int = 0
    redis_restarted_at: float | None = None


class Stack:
    """The processes under test and how to kill and restart them."""

    def __init__(self, servers: Servers, env: dict[str, str | None], app_ports: list[int], redis_port: int) -> None:
        self.servers, self.env, self.app_ports, self.redis_port = servers, env, app_ports, redis_port
        self.apps: dict[int, subprocess.Popen[bytes]] = {}
        self.workers: dict[int, subprocess.Popen[bytes]] = {}
        self.redis: subprocess.Popen[bytes] | None = None

    def start_app(self, port: int) -> None:
        self.apps[port] = self.servers.start("myhibachi.app:serving_app", port,
                                             {**self.env, "BASE_URL": local_url(port)})

    def start_worker(self, n: int) -> None:
        self.workers[n] = self.servers.spawn(f"server-worker-{n}",
                                             [str(Path(sys.executable).with_name("myhibachi")), "worker"], self.env)

    async def start_redis(self) -> None:
        self.redis = self.servers.spawn("server-redis", [
            "redis-server", "--port", str(self.redis_port), "--bind", HOST, "--save", "", "--appendonly", "no",
            "--daemonize", "no"], {})
        client = Redis(host=HOST, port=self.redis_port)
        try:
            for _ in range(100):
                try:
                    if await client.ping():
                        return
                except (OSError, RedisConnectionError):  # still starting
                    await asyncio.sleep(0.05)
            raise RuntimeError("redis-server did not start")
        finally:
            await client.aclose()

    def start_all(self) -> None:
        for port in self.app_ports:
            self.start_app(port)
        for n in range(WORKERS):
            self.start_worker(n)

    def restart_dead(self) -> None:
        for port, app in self.apps.items():
            if app.poll() is not None:
                self.start_app(port)
        for n, worker in self.workers.items():
            if worker.poll() is not None:
                self.start_worker(n)


def kill_hard(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the process and its children (its own session), reaped."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


class Client:
    """The customers' HTTP client: any live app; a lost connection, a 5xx or a 429 is retried (same body, same
    headers: the Idempotency-Key too) until CALL_DEADLINE."""

    def __init__(self, stack: Stack, tally: Tally) -> None:
        self.stack, self.tally = stack, tally
        self.http = httpx.AsyncClient(timeout=30.0, limits=httpx.Limits(max_connections=4 * CONCURRENCY))

    async def call(self, method: str, path: str, ok: tuple[int, ...], **kwargs: Any) -> httpx.Response:
        deadline = time.monotonic() + CALL_DEADLINE
        pause = 0.2
        errors: Counter[str] = Counter()
        while True:
            port = RNG.choice(self.stack.app_ports)
            try:
                response = await self.http.request(method, f"{local_url(port)}{API}{path}", **kwargs)
                if response.status_code in ok:
                    return response
                route = path.split("/")[1]
                self.tally.statuses[f"{response.status_code} {method} /{route}"] += 1
                if response.status_code < 500 and response.status_code != 429:
                    raise Failed(f"{response.status_code} {response.text[:200]}")
            except httpx.TransportError as lost:  # the app was killed under us or is restarting
                errors[type(lost).__name__] += 1
            if time.monotonic() > deadline:
                raise Failed(f"{method} {path.split('/')[1]}: no answer within {CALL_DEADLINE:.0f} s {dict(errors)}")
            self.tally.retries += 1
            await asyncio.sleep(pause * RNG.uniform(0.5, 1.5))
            pause = min(2.0, pause * 1.5)


def _party(station_id: int) -> dict[str, Any]:
    return {"station_id": station_id, "zip_code": "94538", "adults": 10, "children": 2, "toddlers": 0,
            "upgrades": {"filet_mignon": 2}, "addons": {"gyoza": 1}}


async def run_flow(client: Client, emulator: StripeEmulator, station_id: int, flow: Flow) -> None:
    try:
        await client.call("POST", "/quotes", (200,), json=_party(station_id))
        booking = {**_party(station_id), "event_date": flow.day, "slot_time": flow.slot, "allergies": "none",
                   "venue": {"line1": "4100 Mowry Ave", "city": "Fremont", "state": "CA", "zip_code": "94538"},
                   "customer": {"name": f"Chaos Customer {flow.n}", "email": flow.email, "phone": "(510) 555-0142"}}
        created = await client.call("POST", "/bookings", (201, 409), json=booking,
                                    headers={"Idempotency-Key": f"chaos-{uuid.uuid4()}"})
        if created.status_code == 409:
            flow.outcome = "refused" if created.json().get("code") == "slot_unavailable" else f"failed: {created.text}"
            return
        flow.booking_id, flow.reference = created.json()["id"], created.json()["reference"]
        token = created.json()["manage_token"]
        started = await client.call("POST", f"/manage/{token}/payment-intent", (201,), json={"purpose": "deposit"})
        flow.intent_id = started.json()["payment_intent_id"]
        paid = await emulator.browser_pays(flow.intent_id)  # what Stripe.js does in the browser
        flow.outcome = "paid" if paid["status"] == "succeeded" else f"failed: intent {paid['status']}"
    except Failed as exc:
        flow.outcome = f"failed: {exc}"
    except Exception as exc:  # noqa: BLE001 - one flow's surprise is reported, the others go on
        flow.outcome = f"failed: {type(exc).__name__}: {exc}"
    finally:
        flow.finished_at = time.monotonic()


async def relay_webhooks(receiver: WebhookReceiver, client: Client, tally: Tally, stop: asyncio.Event) -> None:
    """Stripe's side of the webhooks: each event the emulator sends is posted to an app until one answers 200."""
    relayed = 0
    pending: set[asyncio.Task[None]] = set()

    async def deliver(body: bytes, headers: dict[str, str]) -> None:
        signature = next(v for k, v in headers.items() if k.lower() == "stripe-signature")
        try:
            await client.call("POST", "/webhooks/stripe", (200,), content=body,
                              headers={"Content-Type": "application/json", "Stripe-Signature": signature})
            tally.webhooks_relayed += 1
        except Failed:
            tally.webhooks_lost += 1

    try:
        while not (stop.is_set() and relayed == len(receiver.deliveries) and not pending):
            while relayed < len(receiver.deliveries):
                task = asyncio.create_task(deliver(*receiver.deliveries[relayed]))
                pending.add(task)
                task.add_done_callback(pending.discard)
                relayed += 1
            await asyncio.sleep(0.1)
    finally:
        for task in list(pending):
            task.cancel()


async def chaos(stack: Stack, tally: Tally, stop: asyncio.Event, started: float, redis_after: float) -> None:
    """A random app or worker SIGKILLed every KILL_EVERY seconds and restarted a moment later; Redis once."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), RNG.uniform(*KILL_EVERY))
            return
        except TimeoutError:
            pass
        if tally.redis_restarted_at is None and time.monotonic() - started > redis_after and stack.redis:
            kill_hard(stack.redis)
            tally.kills["redis"] += 1
            await asyncio.sleep(RNG.uniform(0.2, 1.0))
            await stack.start_redis()
            tally.redis_restarted_at = time.monotonic()
            continue
        kind, key = RNG.choice([("app", port) for port in stack.app_ports] + [("worker", n) for n in stack.workers])
        kill_hard(stack.apps[key] if kind == "app" else stack.workers[key])
        tally.kills[kind] += 1
        await asyncio.sleep(RNG.uniform(0.0, 1.0))
        (stack.start_app if kind == "app" else stack.start_worker)(key)


async def seed(db: Database) -> int:
    async with db.transaction() as session:
        station, _ = await ensure_station(session, StationCreate(
            code="KIL", name="Chaos", timezone=ZONE, latitude=37.5, longitude=-122.0,
            address=Address(line1="1 Main St", city="Fremont", state="CA", zip_code="94538")))
        session.add_all(Chef(station_id=station.id, name=f"Chef {n}", working_weekdays=EVERY_WEEKDAY, is_active=True)
                        for n in range(CHEFS))
    return station.id


def plan(count: int) -> list[Flow]:
    """FLOWS_PER_DAY flows per date from 5 days ahead (past the minimum notice), each at a random slot."""
    first = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=5)
    return [Flow(n, (first + timedelta(days=n // FLOWS_PER_DAY)).isoformat(), RNG.choice(SLOTS),
                 f"chaos{n}@example.com") for n in range(count)]


async def settled(db: Database, flows: list[Flow]) -> bool:
    """Every paid flow's booking confirmed, every Stripe event handled, the outbox empty (or given up on)."""
    paid = [f.booking_id for f in flows if f.outcome == "paid"]
    async with db.transaction(write=False) as session:
        confirmed = await session.scalar(select(func.count()).select_from(Booking).where(
            Booking.id.in_(paid), Booking.status == "confirmed")) if paid else 0
        unhandled = await session.scalar(select(func.count()).select_from(StripeEvent).where(
            StripeEvent.handled_at.is_(None)))
        pending = await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.processed_at.is_(None), OutboxMessage.attempts < MAX_ATTEMPTS))
    return confirmed == len(paid) and unhandled == 0 and pending == 0


async def check(db: Database, flows: list[Flow], sink: SmtpServer) -> tuple[list[str], dict[str, int]]:
    """The violations found, and the email figures."""
    violations: list[str] = []
    async with db.transaction(write=False) as session:
        bookings = {b.id: b for b in await session.scalars(select(Booking))}
        payments = list(await session.scalars(select(Payment)))
        outbox = list(await session.scalars(select(OutboxMessage)))
        unhandled = await session.scalar(select(func.count()).select_from(StripeEvent).where(
            StripeEvent.handled_at.is_(None)))
    for flow in flows:
        if flow.booking_id is None:
            continue
        booking = bookings.get(flow.booking_id)
        if booking is None or booking.reference != flow.reference:
            violations.append(f"flow {flow.n}: booking {flow.reference} was created but is gone")
        elif flow.outcome == "paid" and booking.status != "confirmed":
            violations.append(f"flow {flow.n}: {flow.reference} paid but {booking.status}")
    by_email = {f.email: f for f in flows}
    for b in bookings.values():  # each flow books under an email address of its own
        flow = by_email[b.contact_email]
        if b.id != flow.booking_id and flow.outcome in ("paid", "refused"):
            violations.append(f"booking {b.reference}: flow {flow.n} was told {flow.reference or 'no'} (booked twice?)")
    live = Counter((b.event_date.isoformat(), b.slot_time) for b in bookings.values()
                   if b.status in ("pending_deposit", "confirmed"))
    violations += [f"{day} {slot}: {n} live bookings for {CHEFS} chefs" for (day, slot), n in live.items() if n > CHEFS]
    violations += [f"flow {f.n}: refused at {f.day} {f.slot} with only {live[(f.day, f.slot)]} of {CHEFS} taken"
                   for f in flows if f.outcome == "refused" and live[(f.day, f.slot)] < CHEFS]
    per_intent = Counter(p.provider_intent_id for p in payments if p.provider_intent_id)
    violations += [f"intent {intent}: {n} payment rows" for intent, n in per_intent.items() if n > 1]
    succeeded = Counter(p.booking_id for p in payments if p.status == PaymentStatus.succeeded.value)
    violations += [f"booking {b}: {n} succeeded payments" for b, n in succeeded.items() if n > 1]
    recorded = {p.provider_intent_id: p for p in payments}
    violations += [f"flow {f.n}: intent {f.intent_id} paid but recorded as "
                   f"{recorded[f.intent_id].status if f.intent_id in recorded else 'nothing'}"
                   for f in flows if f.outcome == "paid" and (
                       f.intent_id not in recorded or recorded[f.intent_id].status != PaymentStatus.succeeded.value)]
    if unhandled:
        violations.append(f"{unhandled} Stripe events never handled")
    figures, email_violations = check_emails(flows, outbox, sink.messages)
    # A killed process records no failure: an error here is something else that went wrong (then was retried).
    failures = Counter((m.last_error or "")[:60] for m in outbox if m.last_error)
    figures |= {f"outbox failures: {error}": n for error, n in failures.most_common(5)}
    return violations + email_violations, figures


def check_emails(flows: list[Flow], outbox: list[OutboxMessage],
                 received: list[EmailMessage]) -> tuple[dict[str, int], list[str]]:
    """Each queued email (an outbox row) must reach the sink under exactly one Message-ID. The same Message-ID
    twice is a redelivery the receiving side drops (counted); two Message-IDs for one email is a duplicate."""
    violations: list[str] = []
    due = [m for m in outbox if m.topic == SEND_EMAIL_TOPIC]
    violations += [f"email {m.id} ({m.payload['subject']}) never sent: {m.last_error}"
                   for m in due if m.processed_at is None]
    queued = Counter((m.payload["to"], m.payload["subject"]) for m in due)
    ids_by_email: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for message in received:
        ids_by_email[(str(message["To"]), str(message["Subject"]))][str(message["Message-ID"])] += 1
    chosen = defaultdict(set)  # the Message-IDs chosen when the emails were queued
    for m in due:
        chosen[(m.payload["to"], m.payload["subject"])].add(f"<{m.payload.get('message_id', '?').strip('<>')}>")
    for email, ids in ids_by_email.items():
        if email in chosen and not set(ids) <= chosen[email]:
            violations.append(f"{email[1]} to {email[0]}: sent under another Message-ID than it was queued with")
        if email not in queued:
            violations.append(f"received an email nobody queued: {email}")
        elif len(ids) > queued[email]:
            violations.append(f"{email[1]} to {email[0]}: received under {len(ids)} Message-IDs")
    for email in queued:
        if email not in ids_by_email:
            violations.append(f"{email[1]} to {email[0]}: queued, never received")
    subjects = defaultdict(list)
    for to, subject in queued:
        subjects[to].append(subject)
    for flow in flows:  # what the customer expects, whatever the outbox says
        wanted = []
        if flow.reference:
            wanted.append("We're holding your date")
        if flow.outcome == "paid":
            wanted.append("Deposit received — you are confirmed")
        for start in wanted:
            if not any(s.startswith(start) and flow.reference in s for s in subjects[flow.email]):
                violations.append(f"flow {flow.n}: no '{start}' email queued for {flow.reference}")
    figures = {"queued": len(due), "received": len(received),
               "distinct Message-IDs": sum(len(ids) for ids in ids_by_email.values()),
               "redelivered (same Message-ID: a receiver drops it)":
                   sum(n - 1 for ids in ids_by_email.values() for n in ids.values())}
    return figures, violations


async def main(count: int) -> int:
    tally = Tally()
    flows = plan(count)
    sink = SmtpServer()
    controller = EphemeralPortController(sink, hostname=HOST, port=0, ready_timeout=5)
    controller.start()
    sink.port = controller.port
    emulator = StripeEmulator.start()
    try:
        receiver = emulator.webhook_receiver(WEBHOOK_SECRET)
        async with throwaway_database() as url:
            db = Database(url)
            with Servers("chaos-") as servers:
                try:
                    station_id = await seed(db)
                    redis_port = free_port()
                    env = {**app_env(url, 0, servers.folder), "REDIS_URL": f"redis://{HOST}:{redis_port}/0",
                           "SMTP_URL": sink.url, "JOBS_INLINE": "false", "OUTBOX_SWEEP_SECONDS": "3",
                           "STRIPE_SECRET_KEY": API_KEY, "STRIPE_PUBLISHABLE_KEY": "pk_test_chaos",
                           "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "STRIPE_API_BASE": emulator.url}
                    stack = Stack(servers, env, [free_port() for _ in range(APPS)], redis_port)
                    await stack.start_redis()
                    stack.start_all()
                    async with httpx.AsyncClient() as probe:
                        for port, app in stack.apps.items():
                            probe.base_url = local_url(port)
                            await wait_ready(probe, app)
                    outcome = await run(db, stack, tally, flows, sink, emulator, receiver, station_id)
                finally:
                    await db.dispose()
    finally:
        emulator.stop()
        controller.stop()
    report(flows, tally, *outcome)  # after the servers' logs, printed as they stop
    if outcome[1]:
        return 1
    return 2 if any(flow.outcome == "unfinished" for flow in flows) else 0  # sound, but not all flows ran


async def run(db: Database, stack: Stack, tally: Tally, flows: list[Flow], sink: SmtpServer,
              emulator: StripeEmulator, receiver: WebhookReceiver, station_id: int
              ) -> tuple[dict[str, int], list[str], float, float]:
    """The flows under chaos, then the settling and the checks: (email figures, violations, flows time, settle
    time)."""
    client = Client(stack, tally)
    stop_chaos, stop_relay = asyncio.Event(), asyncio.Event()
    started = time.monotonic()
    relay = asyncio.create_task(relay_webhooks(receiver, client, tally, stop_relay))
    killer = asyncio.create_task(chaos(stack, tally, stop_chaos, started, redis_after=5.0 + len(flows) / 40))
    gate = asyncio.Semaphore(CONCURRENCY)

    async def bounded(flow: Flow) -> None:
        async with gate:
            await run_flow(client, emulator, station_id, flow)

    try:
        running = [asyncio.create_task(bounded(flow)) for flow in flows]
        _, late = await asyncio.wait(running, timeout=FLOWS_TIMEOUT)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        for flow in flows:
            if flow.outcome == "pending":
                flow.outcome = "unfinished"
        flows_done = time.monotonic()
        stop_chaos.set()
        await killer
        stack.restart_dead()
        await asyncio.sleep(3)  # the emulator sends each webhook about 1 s after the payment
        stop_relay.set()
        await relay
        until = time.monotonic() + SETTLE_TIMEOUT
        while not await settled(db, flows) and time.monotonic() < until:  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(2)
        settle = time.monotonic() - flows_done
        await asyncio.sleep(1)  # the last SMTP transactions
        violations, emails = await check(db, flows, sink)
    finally:
        stop_chaos.set()
        stop_relay.set()
        for task in (killer, relay):
            task.cancel()
        await client.http.aclose()
    return emails, violations, flows_done - started, settle


def report(flows: list[Flow], tally: Tally, emails: dict[str, int], violations: list[str], elapsed: float,
           settle: float) -> None:
    outcomes = Counter(f.outcome if not f.outcome.startswith("failed") else "failed" for f in flows)
    after_redis = sum(1 for f in flows if tally.redis_restarted_at and f.finished_at > tally.redis_restarted_at
                      and f.outcome in ("paid", "refused"))
    print(f"chaos: {len(flows)} flows, {CONCURRENCY} at a time, {APPS} apps + {WORKERS} workers on 127.0.0.1, "
          f"PostgreSQL, own Redis; CHAOS_SEED={SEED}")
    rows = [
        ("flows paid (booked + deposit)", outcomes["paid"]), ("flows refused (409 slot_unavailable)",
                                                               outcomes["refused"]),
        ("flows failed", outcomes["failed"]),
        (f"flows unfinished after {FLOWS_TIMEOUT:.0f} s", outcomes["unfinished"]), ("flows time (s)", f"{elapsed:.1f}"),
        ("settle time after the flows (s)", f"{settle:.1f}"),
        ("kills: app / worker / redis", f"{tally.kills['app']} / {tally.kills['worker']} / {tally.kills['redis']}"),
        ("flows finished after the Redis restart", after_redis), ("client retries", tally.retries),
        ("webhooks relayed / lost", f"{tally.webhooks_relayed} / {tally.webhooks_lost}"),
        *((name if name.startswith("outbox") else f"emails {name}", n) for name, n in emails.items()),
        *((f"answers {name}", n) for name, n in sorted(tally.statuses.items())),
        ("violations", len(violations)),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    for flow in [f for f in flows if f.outcome.startswith("failed")][:10]:
        print(f"  failed flow {flow.n}: {flow.outcome[:300]}")
    for violation in violations[:40]:
        print(f"  VIOLATION {violation}")


if __name__ == "__main__":
    flow_count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    try:
        sys.exit(asyncio.run(asyncio.wait_for(main(flow_count), RUN_TIMEOUT)))
    except TimeoutError:
        print(f"chaos: stopped after {RUN_TIMEOUT:.0f} s")
        sys.exit(2)
