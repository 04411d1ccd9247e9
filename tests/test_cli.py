"""The `myhibachi` command against a temporary SQLite file: migrate, seed-demo, create-user and its errors,
rebuild-day-totals."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from myhibachi.bookings.models import BookingStatus
from myhibachi.cli import app
from myhibachi.core.db import Database
from myhibachi.demo import DEMO_CHEFS, DEMO_PASSWORD, DEMO_STATIONS, DEMO_USERS
from myhibachi.payments.models import Payment
from myhibachi.schema import metadata
from myhibachi.settings import get_settings
from myhibachi.stations.models import Station
from tests.factories import insert_booking

runner = CliRunner()
pytestmark = pytest.mark.own_sqlite  # the same on either pass of `make test`: run once


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """DATABASE_URL points at a new SQLite file; no .env file or ./var of the checkout is read or written."""
    path = tmp_path / "cli.sqlite"
    monkeypatch.chdir(tmp_path)
    for name in ("REDIS_URL", "SMTP_URL", "ENVIRONMENT", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    monkeypatch.setenv("MAIL_DIR", str(tmp_path / "mail"))
    monkeypatch.setenv("COLUMNS", "200")  # rich tables unwrapped
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def invoke(*args: str):  # noqa: ANN201
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result


def query(path: Path, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


def count(path: Path, table: str) -> int:
    return query(path, f"SELECT count(*) FROM {table}")[0][0]  # noqa: S608 - fixed table names


@pytest.fixture
def migrated(database: Path) -> Path:
    result = invoke("migrate")
    assert result.exit_code == 0, result.output
    return database


def test_migrate_creates_the_schema_and_is_repeatable(database: Path):
    assert not database.exists()
    first = invoke("migrate")
    assert first.exit_code == 0, first.output
    assert "Database schema is up to date" in first.output
    tables = {row[0] for row in query(database, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert set(metadata.tables) <= tables
    version = query(database, "SELECT version_num FROM alembic_version")

    second = invoke("migrate")
    assert second.exit_code == 0, second.output
    assert query(database, "SELECT version_num FROM alembic_version") == version


def test_seed_demo_is_idempotent_and_prints_the_logins(migrated: Path):
    first = invoke("seed-demo")
    assert first.exit_code == 0, first.output
    assert count(migrated, "users") == len(DEMO_USERS)
    assert count(migrated, "stations") == len(DEMO_STATIONS)
    assert count(migrated, "station_memberships") == sum(1 for *_, code in DEMO_USERS if code)
    chefs_per_station = "SELECT s.code, count(c.id), min(c.working_weekdays) FROM stations s " \
                        "LEFT JOIN chefs c ON c.station_id = s.id GROUP BY s.code ORDER BY s.code"
    expected_chefs = sorted((code, 2, "[1, 2, 3, 4, 5, 6, 7]") for code in DEMO_CHEFS)
    assert query(migrated, chefs_per_station) == expected_chefs
    assert sorted(DEMO_CHEFS) == sorted(s.code for s in DEMO_STATIONS)
    linked = "SELECT u.email FROM chefs c JOIN users u ON u.id = c.user_id"
    assert query(migrated, linked) == [("chef@example.com",)]
    audit_rows = count(migrated, "audit_log")
    assert DEMO_PASSWORD in first.output
    for email, *_ in DEMO_USERS:
        assert email in first.output
    assert first.output.count("created") == len(DEMO_USERS)
    for data in DEMO_STATIONS:  # each station's history, reported as it is written
        assert re.search(rf"{data.code}: \d+ bookings \(.+\), \d+ payments, \d+ refunds, \d+ leads \(.+\) in [\d.]+ s",
                         first.output)
    bookings = count(migrated, "bookings")
    assert bookings > 100

    second = invoke("seed-demo")
    assert second.exit_code == 0, second.output
    assert count(migrated, "users") == len(DEMO_USERS)
    assert count(migrated, "stations") == len(DEMO_STATIONS)
    assert query(migrated, chefs_per_station) == expected_chefs
    assert count(migrated, "audit_log") == audit_rows
    assert count(migrated, "bookings") == bookings
    assert second.output.count("history left as it is") == len(DEMO_STATIONS)
    assert second.output.count("exists") == len(DEMO_USERS)
    assert "created" not in second.output
    for email, *_ in DEMO_USERS:
        assert email in second.output


def test_create_super_admin_without_station(migrated: Path):
    result = invoke("create-user", "--email", "Owner@Example.com", "--password", "owner-password-1",
                    "--name", "Olivia Owner", "--role", "super_admin")
    assert result.exit_code == 0, result.output
    assert "Created user" in result.output
    rows = query(migrated, "SELECT id, email, is_super_admin, password_hash FROM users")
    assert len(rows) == 1
    user_id, email, is_super_admin, password_hash = rows[0]
    assert (email, is_super_admin) == ("owner@example.com", 1)
    assert password_hash and "owner-password-1" not in password_hash
    assert f"Created user {user_id}" in result.output
    assert count(migrated, "station_memberships") == 0
    assert query(migrated, "SELECT action, target_id FROM audit_log") == [("users.create", str(user_id))]


def test_create_admin_at_a_station(migrated: Path):
    assert invoke("seed-demo", "--no-history").exit_code == 0
    result = invoke("create-user", "--email", "second-admin@example.com", "--password", "admin-password-1",
                    "--name", "Second Admin", "--role", "admin", "--station", "fre")
    assert result.exit_code == 0, result.output
    assert "at FRE" in result.output
    rows = query(migrated, "SELECT u.is_super_admin, s.code, m.role FROM users u "
                           "JOIN station_memberships m ON m.user_id = u.id JOIN stations s ON s.id = m.station_id "
                           "WHERE u.email = ?", "second-admin@example.com")
    assert rows == [(0, "FRE", "admin")]


@pytest.mark.parametrize(("args", "exit_code", "message"), [
    (["--role", "admin", "--station", "XXX"], 2, "no station with code 'XXX'"),
    (["--role", "admin"], 1, "A station is required for this role."),
    (["--role", "wizard"], 2, "role"),
    (["--role", "super_admin", "--password", "short"], 2, "password"),
], ids=["unknown-station", "missing-station", "unknown-role", "short-password"])
def test_create_user_errors_are_clear_and_write_nothing(migrated: Path, args: list[str], exit_code: int,
                                                        message: str):
    options = {"--email": "new@example.com", "--password": "long-enough-password", "--name": "New Person"}
    for i in range(0, len(args), 2):
        options[args[i]] = args[i + 1]
    result = invoke("create-user", *(part for pair in options.items() for part in pair))
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit)
    assert message in " ".join(result.output.split())
    assert count(migrated, "users") == 0
    assert count(migrated, "audit_log") == 0


def test_create_user_refuses_a_duplicate_email(migrated: Path):
    args = ["--password", "long-enough-password", "--name", "Dup", "--role", "super_admin"]
    assert invoke("create-user", "--email", "dup@example.com", *args).exit_code == 0
    result = invoke("create-user", "--email", "DUP@example.com", *args)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "already exists" in result.output
    assert count(migrated, "users") == 1


def test_short_password_message_names_the_limit(migrated: Path):
    result = invoke("create-user", "--email", "new@example.com", "--password", "short", "--name", "New",
                    "--role", "super_admin")
    assert result.exit_code == 2
    assert "at least 10 characters" in result.output


def test_worker_needs_redis(database: Path):
    result = invoke("worker")
    assert result.exit_code == 1
    assert "REDIS_URL is not set" in result.output


def test_scheduler_needs_redis(database: Path):
    result = invoke("scheduler")
    assert result.exit_code == 1
    assert "REDIS_URL is not set" in result.output


def test_run_periodic_expires_lapsed_holds_and_reports(migrated: Path):
    # The history's own holds and reminders being up to date is tests/test_demo_history.py's to show.
    assert invoke("seed-demo", "--no-history").exit_code == 0

    async def lapsed_hold() -> int:
        db = Database(f"sqlite+aiosqlite:///{migrated}")
        try:
            async with db.transaction(write=False) as session:
                station = await session.scalar(select(Station).where(Station.code == DEMO_STATIONS[0].code))
            start = datetime.now(UTC) + timedelta(days=5)
            return await insert_booking(db, station, start, status=BookingStatus.pending_deposit,
                                        hold_expires_at=datetime.now(UTC) - timedelta(minutes=1))
        finally:
            await db.dispose()

    booking_id = asyncio.run(lapsed_hold())
    result = invoke("run-periodic")

    assert result.exit_code == 0, result.output
    # only the lapsed hold has anything to do
    assert "bookings.expire_holds: 1" in result.output and "bookings.send_reminders: 0" in result.output
    assert "bookings.ask_for_proteins: 0" in result.output
    assert query(migrated, "SELECT status FROM bookings WHERE id = ?", booking_id) == [("expired",)]
    assert "leads.retrain_scores: 0" in result.output  # no lead has closed
    assert invoke("run-periodic").output.count(": 0") == 10  # nothing left to do


def test_a_worker_process_can_run_every_kind_of_job(tmp_path: Path):
    """The worker imports no routers: it must still know every outbox topic and periodic task the app writes."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    script = ("import myhibachi.worker\nfrom myhibachi.core import jobs, outbox\n"
              "print(sorted(outbox._handlers)); print(sorted(jobs._periodic_tasks))")
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path,
                          check=True, timeout=60)
    topics, tasks = done.stdout.splitlines()
    assert topics == str(["assistant.reply", "auth.password_reset_requested", "bookings.cancelled",
                          "bookings.confirmed",
                          "bookings.refused", "email.send", "inbox.deliver", "newsletters.campaign_due",
                          "payments.stripe_event"])
    assert tasks == str(["assistant.unanswered", "automations.run", "bookings.ask_for_proteins",
                         "bookings.expire_holds",
                         "bookings.send_reminders",
                         "leads.catch_abandoned_flows", "leads.remind_follow_ups", "leads.retrain_scores",
                         "newsletters.send_campaigns", "payments.remind_deposits"])


async def pay_at_each_station(path: Path) -> None:
    """A deposit paid through the ORM at each demo station: its flush counts it in the day totals."""
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        for n, data in enumerate(DEMO_STATIONS):
            async with db.transaction(write=False) as session:
                station = await session.scalar(select(Station).where(Station.code == data.code))
            booking_id = await insert_booking(db, station, datetime.now(UTC) + timedelta(days=5))
            async with db.transaction() as session:
                session.add(Payment(booking_id=booking_id, station_id=station.id, purpose="deposit", method="card",
                                    status="succeeded", amount_cents=10000 + n, currency="USD",
                                    succeeded_at=datetime.now(UTC)))
    finally:
        await db.dispose()


def test_rebuild_day_totals_recounts_a_payment_changed_around_the_app(migrated: Path):
    assert invoke("seed-demo", "--no-history").exit_code == 0
    asyncio.run(pay_at_each_station(migrated))
    by_station = ("SELECT s.code, sum(t.paid_cents) FROM payment_day_totals t "
                  "JOIN stations s ON s.id = t.station_id GROUP BY s.code ORDER BY s.code")
    kept = dict(query(migrated, by_station))
    fremont = DEMO_STATIONS[0].code
    assert kept == {data.code: 10000 + n for n, data in enumerate(DEMO_STATIONS)}
    # A hand-made fix in SQL, which no flush counts; and every station's rows lost besides.
    query(migrated, "UPDATE payments SET amount_cents = amount_cents + 100 WHERE station_id = "
                    "(SELECT id FROM stations WHERE code = ?)", fremont)
    query(migrated, "DELETE FROM payment_day_totals")

    unknown = invoke("rebuild-day-totals", "--station", fremont, "--station", "nope")
    assert unknown.exit_code == 1 and "No station with code NOPE" in unknown.output
    assert count(migrated, "payment_day_totals") == 0  # nothing rebuilt

    one = invoke("rebuild-day-totals", "--station", fremont.lower())
    assert one.exit_code == 0 and f"Day totals rebuilt for {fremont}" in one.output, one.output
    assert dict(query(migrated, by_station)) == {fremont: kept[fremont] + 100}

    every = invoke("rebuild-day-totals")
    assert every.exit_code == 0, every.output
    assert dict(query(migrated, by_station)) == {**kept, fremont: kept[fremont] + 100}
