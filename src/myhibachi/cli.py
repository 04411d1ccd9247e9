"""The `myhibachi` command: serve, migrate, seed-demo, create-user, worker, scheduler."""

from __future__ import annotations

import asyncio
import os
from functools import cache
from typing import TYPE_CHECKING, Annotated

import typer

from myhibachi.settings import get_settings

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(help="MyHibachi: run a mobile hibachi catering business.", no_args_is_help=True,
                  add_completion=False)


@cache
def console() -> Console:
    """rich, imported by the commands that print with it: not by `serve`, whose process serves (~1.5 MB)."""
    from rich.console import Console

    return Console()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: HOST or 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: PORT or 8000.")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    workers: Annotated[int, typer.Option(min=1, help="App processes sharing the port (uvicorn's process manager); more "
                                                     "than one needs a shared DATABASE_URL and REDIS_URL.")] = 1,
) -> None:
    """Serve the app (API, docs, metrics)."""
    import uvicorn

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    if (host, port) != (settings.host, settings.port):  # the app (built by uvicorn) reads its settings again:
        os.environ.update(HOST=host, PORT=str(port))  # so that BASE_URL, unset, follows --host / --port too
        get_settings.cache_clear()
    typer.echo(f"{typer.style('MyHibachi', fg='green', bold=True)} on http://{host}:{port}  "
               f"(API docs: http://{host}:{port}/docs)")
    # The app believes X-Forwarded-For only from FORWARDED_ALLOW_IPS; uvicorn's own reading would trust 127.0.0.1.
    # A WebSocket frame is bounded before the app reads it (the app's own limit, WS_MAX_MESSAGE_BYTES, is lower).
    uvicorn.run("myhibachi.app:serving_app", factory=True, host=host, port=port, reload=reload,
                proxy_headers=False, access_log=False, ws_max_size=65536, workers=workers)


@app.command()
def migrate(
    create_database: Annotated[bool, typer.Option(help="First create the PostgreSQL database if missing.")] = False,
) -> None:
    """Bring the database schema up to date (SQLite or PostgreSQL, from DATABASE_URL)."""
    from myhibachi.core.migrations import create_database_if_missing, upgrade_to_head

    database_url = get_settings().database_url
    if create_database and asyncio.run(create_database_if_missing(database_url)):
        console().print("[green]✓[/] Created the database.")
    with console().status("Migrating the database…"):
        upgrade_to_head(database_url)
    console().print("[green]✓[/] Database schema is up to date.")


@app.command("seed-demo")
def seed_demo(
    history: Annotated[bool, typer.Option(help="Also give each demo station a believable history: ~90 days of past "
                                               "and ~30 days of upcoming bookings, payments and refunds.")] = True,
) -> None:
    """Load demo stations, one user per role, two chefs per station and their history (safe to run again), and
    print the logins."""
    from time import perf_counter

    from rich.table import Table

    from myhibachi.core.cache import cache_for
    from myhibachi.core.changes import changes_for
    from myhibachi.core.db import Database
    from myhibachi.demo import DEMO_PASSWORD, StationHistory
    from myhibachi.demo import seed_demo as run_seed

    settings = get_settings()

    def report(station: StationHistory) -> None:
        console().print(f"[green]✓[/] {station.summary()}", soft_wrap=True)  # one line each, whatever the width

    async def run() -> list:
        # what the demo data changes must not be served stale from a shared (Redis) cache, nor from the near
        # caches of running app processes (they hear the change feed)
        cache = cache_for(settings.redis_url, settings.cache_ttl_reference_seconds)
        changes = changes_for(settings.redis_url)
        db = Database(settings.database_url, cache=cache, changes=changes)
        try:
            return await run_seed(db, settings, history=history, progress=report)
        finally:
            await db.dispose()
            await cache.close()
            await changes.close()

    started = perf_counter()
    with console().status("Loading demo data (the history takes a little while the first time)…"):
        logins = asyncio.run(run())
    console().print(f"Demo data ready in {perf_counter() - started:.1f} s.")
    table = Table(title=f"Demo logins (password for all: {DEMO_PASSWORD})")
    for column in ("email", "role", "station", "status"):
        table.add_column(column)
    for login in logins:
        table.add_row(login.email, login.role, login.station or "all", "created" if login.created else "exists")
    console().print(table)


@app.command("rebuild-day-totals")
def rebuild_day_totals(
    station: Annotated[list[str] | None, typer.Option(help="A station's code (repeat for more; default: all).")] = None,
) -> None:
    """Recompute analytics' per-day payment totals from the ledger: after payments or refunds were written around the
    app (a hand-made SQL fix), which the app could not count as it does its own writes."""
    from time import perf_counter

    from myhibachi.core.cache import cache_for
    from myhibachi.core.changes import changes_for
    from myhibachi.core.db import Database
    from myhibachi.core.errors import DomainError
    from myhibachi.payments.commands import rebuild_payment_day_totals

    settings = get_settings()

    async def run() -> list[str]:
        # running app processes drop their cached reports: through the shared cache and the change feed
        cache = cache_for(settings.redis_url, settings.cache_ttl_reference_seconds)
        changes = changes_for(settings.redis_url)
        db = Database(settings.database_url, cache=cache, changes=changes)
        try:
            async with db.transaction() as session:
                return await rebuild_payment_day_totals(session, station or ())
        finally:
            await db.dispose()
            await cache.close()
            await changes.close()

    started = perf_counter()
    try:
        with console().status("Recomputing the per-day payment totals from the ledger…"):
            codes = asyncio.run(run())
    except DomainError as exc:
        console().print(f"[red]✗[/] {exc.detail}")
        raise typer.Exit(1) from None
    console().print(f"[green]✓[/] Day totals rebuilt for {', '.join(codes) or 'no station'} "
                    f"in {perf_counter() - started:.1f} s.")


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(help="Sign-in email.")],
    password: Annotated[str, typer.Option(help="At least 10 characters.", prompt=True, hide_input=True,
                                          confirmation_prompt=True)],
    name: Annotated[str, typer.Option(help="Display name.")],
    role: Annotated[str, typer.Option(help="super_admin, admin, manager, support or chef.")],
    station: Annotated[str | None, typer.Option(help="Station code (every role but super_admin).")] = None,
) -> None:
    """Create a staff user (e.g. the first super admin)."""
    from pydantic import ValidationError

    from myhibachi.auth.commands import create_user as run_create
    from myhibachi.auth.principal import SYSTEM
    from myhibachi.auth.schemas import UserCreate
    from myhibachi.core.db import Database
    from myhibachi.core.errors import DomainError
    from myhibachi.stations.models import Station

    settings = get_settings()

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            async with db.transaction() as session:
                station_id = None
                if station:
                    from sqlalchemy import select

                    station_id = await session.scalar(select(Station.id).where(Station.code == station.upper()))
                    if station_id is None:
                        raise typer.BadParameter(f"no station with code {station!r}", param_hint="--station")
                data = UserCreate(email=email, password=password, name=name, role=role, station_id=station_id)
                return (await run_create(session, settings, SYSTEM, data)).id
        finally:
            await db.dispose()

    try:
        user_id = asyncio.run(run())
    except ValidationError as exc:
        for error in exc.errors():
            console().print(f"[red]✗[/] {'.'.join(map(str, error['loc']))}: {error['msg']}")
        raise typer.Exit(2) from None
    except DomainError as exc:
        console().print(f"[red]✗[/] {exc.detail}")
        raise typer.Exit(1) from None
    where = f" at {station.upper()}" if station else ""
    console().print(f"[green]✓[/] Created user {user_id} ({email}, {role}{where}).")


@app.command()
def worker(
    processes: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Run background jobs from Redis (needs REDIS_URL; without it jobs run inside `serve`)."""
    from taskiq.cli.worker.args import WorkerArgs
    from taskiq.cli.worker.run import run_worker

    if not get_settings().redis_url:
        console().print("[yellow]REDIS_URL is not set: jobs already run inside `myhibachi serve`.[/]")
        raise typer.Exit(1)
    raise typer.Exit(run_worker(WorkerArgs(broker="myhibachi.worker:broker", modules=[],
                                           workers=processes, configure_logging=False)) or 0)


@app.command()
def scheduler() -> None:
    """Queue the maintenance (outbox sweep, periodic tasks) for the workers every OUTBOX_SWEEP_SECONDS (needs
    REDIS_URL). Run one per stack, with PERIODIC_IN_SCHEDULER=true everywhere so that no `serve` or `worker` process
    runs it too."""
    from taskiq.cli.scheduler.args import SchedulerArgs
    from taskiq.cli.scheduler.run import run_scheduler

    settings = get_settings()
    if not settings.redis_url:
        console().print("[yellow]REDIS_URL is not set: the maintenance already runs inside `myhibachi serve`.[/]")
        raise typer.Exit(1)
    if not settings.periodic_in_scheduler:  # it works, but every other process runs the maintenance as well
        console().print("[yellow]PERIODIC_IN_SCHEDULER is not set: `serve` and `worker` maintain too.[/]")
    asyncio.run(run_scheduler(SchedulerArgs(scheduler="myhibachi.core.jobs:maintenance_scheduler", modules=[],
                                            configure_logging=False)))


@app.command("run-periodic")
def run_periodic() -> None:
    """Run the periodic maintenance once (expire lapsed holds, send due reminders) and say what it did.

    `serve` and `worker` (or, with PERIODIC_IN_SCHEDULER, `scheduler`) already run it every OUTBOX_SWEEP_SECONDS;
    this is for cron or a manual catch-up."""
    from myhibachi import tasks  # noqa: F401 - every domain's handlers and periodic tasks
    from myhibachi.core.runtime import Runtime

    async def run() -> dict[str, int]:
        runtime = Runtime(get_settings())
        await runtime.jobs.broker.startup()
        try:
            return await runtime.jobs.run_periodic_tasks()
        finally:
            await runtime.jobs.broker.shutdown()
            await runtime.db.dispose()

    for name, count in asyncio.run(run()).items():
        console().print(f"[green]✓[/] {name}: {count}")
