"""Sign-in timing: an unknown email must cost about as much as a wrong password (no account probing).

Run: .venv/bin/python benchmarks/login_timing.py [rounds]
Prints the median time of each failure kind and their ratio (goal: close to 1.0). Not a test.
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
from myhibachi.core.migrations import upgrade_to_head
from myhibachi.demo import seed_demo
from myhibachi.settings import Environment, Settings


async def main(rounds: int) -> None:
    folder = Path(tempfile.mkdtemp())
    url = f"sqlite+aiosqlite:///{folder / 'bench.sqlite'}"
    await asyncio.to_thread(upgrade_to_head, url)
    settings = Settings(_env_file=None, environment=Environment.test, database_url=url, mail_dir=folder / "mail",
                        login_failures_per_account=10**6, login_failures_per_ip=10**6)
    app = create_app(settings)
    async with LifespanManager(app):
        await seed_demo(app.state.runtime.db, settings)
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://bench") as client:
            timings: dict[str, list[float]] = {"wrong password": [], "unknown email": []}
            for n in range(rounds):
                for kind, email in (("wrong password", "admin@example.com"), ("unknown email", f"x{n}@example.com")):
                    start = time.perf_counter()
                    response = await client.post("/api/v1/auth/login", json={"email": email, "password": "nope-nope"})
                    timings[kind].append(time.perf_counter() - start)
                    assert response.status_code == 401
    medians = {kind: statistics.median(values) * 1000 for kind, values in timings.items()}
    for kind, ms in medians.items():
        print(f"{kind:>15}: median {ms:7.2f} ms over {rounds} attempts")
    print(f"ratio unknown/wrong: {medians['unknown email'] / medians['wrong password']:.3f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30))
