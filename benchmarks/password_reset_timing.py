"""Password-reset timing: asking for a known account's link must cost what an unknown address costs (no account
probing). The request only queues a job; the email (or nothing) follows after the answer, as in production.

Run: .venv/bin/python benchmarks/password_reset_timing.py [rounds]
Prints the mean and median time of each kind of request and their ratio (goal: close to 1.0). Not a test.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient

from myhibachi.app import create_app
from myhibachi.auth.models import User
from myhibachi.core.migrations import upgrade_to_head
from myhibachi.core.outbox import due_message_ids
from myhibachi.core.runtime import Runtime
from myhibachi.settings import Environment, Settings


async def jobs_done(runtime: Runtime) -> None:
    """Until every outbox message (the reset job, then the email it queued) has been processed."""
    while await due_message_ids(runtime.db, older_than_seconds=0):
        await runtime.jobs.broker.wait_all()
        await asyncio.sleep(0)  # let a just-enqueued job start


async def main(rounds: int) -> None:
    folder = Path(tempfile.mkdtemp())
    url = f"sqlite+aiosqlite:///{folder / 'bench.sqlite'}"
    await asyncio.to_thread(upgrade_to_head, url)
    settings = Settings(_env_file=None, environment=Environment.test, database_url=url, mail_dir=folder / "mail")
    app = create_app(settings)
    runtime = app.state.runtime
    async with LifespanManager(app):
        # One account per round: the per-account throttle (3 an hour) would otherwise cut the known path short.
        async with runtime.db.transaction() as session:
            session.add_all([User(email=f"known{n}@example.com", name=f"Known {n}") for n in range(rounds)])
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://bench") as client:
            timings: dict[str, list[float]] = {"known account": [], "unknown email": []}
            for n in range(rounds):
                for kind, email in (("known account", f"known{n}@example.com"), ("unknown email", f"x{n}@example.com")):
                    start = time.perf_counter()
                    response = await client.post("/api/v1/auth/password-reset", json={"email": email})
                    timings[kind].append(time.perf_counter() - start)
                    assert response.status_code == 202
                    await jobs_done(runtime)  # they run after the answer: keep them out of the next timing
    sent = len(list((folder / "mail").glob("*.eml")))
    means = {kind: statistics.mean(values) * 1000 for kind, values in timings.items()}
    medians = {kind: statistics.median(values) * 1000 for kind, values in timings.items()}
    for kind in timings:
        print(f"{kind:>15}: mean {means[kind]:7.2f} ms, median {medians[kind]:7.2f} ms over {rounds} requests")
    print(f"ratio unknown/known: mean {means['unknown email'] / means['known account']:.3f}, "
          f"median {medians['unknown email'] / medians['known account']:.3f}")
    print(f"emails sent: {sent} (one per known account)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30))
