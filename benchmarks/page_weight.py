"""How heavy the booking pages are: bytes on the wire (gzip, as a browser asks) of each step's HTML and of the
CSS and JavaScript it loads, against the uncompressed size.

Run: .venv/bin/python benchmarks/page_weight.py
Serves the app in-process on its embedded default (a throwaway SQLite file, the demo data) and loads /book as a
first-time visitor would (HTML, stylesheets, htmx for the live quote), then pages whose assets are already cached.
Not a test.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path

import httpx

from myhibachi.app import create_app
from myhibachi.core.db import Database
from myhibachi.core.migrations import upgrade_to_head
from myhibachi.demo import seed_demo
from myhibachi.settings import Settings

ASSET = re.compile(r'<(?:link rel="stylesheet" href|script src)="(/[^"]+)"')


async def weigh(client: httpx.AsyncClient, path: str, seen: set[str]) -> tuple[int, int]:
    """(compressed, uncompressed) bytes of a GET, plus of the CSS and JS it links that were not loaded before."""
    async with client.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as response:
        body = await response.aread()
        wire = response.num_bytes_downloaded
    print(f"  {path[:60]:<60}{wire:>10,}{len(body):>10,}")
    total_wire, total_raw = wire, len(body)
    for asset in ASSET.findall(body.decode()):
        if asset not in seen:
            seen.add(asset)
            asset_wire, asset_raw = await weigh(client, asset, seen)
            total_wire, total_raw = total_wire + asset_wire, total_raw + asset_raw
    return total_wire, total_raw


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'weight.sqlite'}"
        await asyncio.to_thread(upgrade_to_head, url)
        settings = Settings(_env_file=None, database_url=url, mail_dir=Path(tmp) / "mail", jobs_inline=True)
        db = Database(url)
        await seed_demo(db, settings, history=False)
        await db.dispose()
        app = create_app(settings)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
            seen: set[str] = set()
            print(f"  {'resource':<60}{'gzip':>10}{'raw':>10}")
            totals = {label: await weigh(client, path, seen) for label, path in [
                ("/book, first visit", "/book"),
                ("/book with a quote, assets cached", "/book?station_id=1&zip_code=94538&adults=12"),
                ("/quote, assets cached", "/quote")]}
            print()
            for label, (wire, raw) in totals.items():
                print(f"{label:<40} {wire:>8,} bytes gzip ({raw:,} raw, {raw / wire:.1f}x smaller)")

if __name__ == "__main__":
    asyncio.run(main())
