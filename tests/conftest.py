"""Test harness: every test gets a freshly migrated database (SQLite by default, PostgreSQL when
TEST_DATABASE_URL is set), Redis when TEST_REDIS_URL is set, and the app served in-process."""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import json
import os
import secrets
import shutil
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
from argon2 import PasswordHasher
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from myhibachi.app import create_app, use_runtime
from myhibachi.auth.commands import create_user
from myhibachi.auth.permissions import Role
from myhibachi.auth.principal import SYSTEM
from myhibachi.auth.schemas import UserCreate
from myhibachi.core import security
from myhibachi.core.db import Database, as_of, create_engine
from myhibachi.core.migrations import upgrade_to_head
from myhibachi.core.observability import configure_logging
from myhibachi.core.runtime import Runtime
from myhibachi.demo import StationHistory, seed_demo
from myhibachi.schema import metadata
from myhibachi.settings import Environment, Settings
from myhibachi.stations.commands import ensure_station
from myhibachi.stations.models import Station
from myhibachi.stations.schemas import Address, StationCreate
from tests.smtp import smtp_server  # noqa: E402, F401 - the loopback SMTP server fixture, for every test

PASSWORD = "correct-horse-battery"  # noqa: S105
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"  # noqa: S105 - only the test environment accepts it
PRODUCTION_SECRET = secrets.token_urlsafe(48)  # for tests of production settings: a key nobody has read
# Settings built without a key make one: keep it out of the work tree's var/.
os.environ.setdefault("SECRET_KEY_FILE", os.path.join(tempfile.gettempdir(), "myhibachi-tests", "secret_key"))
PG_URL = os.environ.get("TEST_DATABASE_URL")

# The Stripe emulator's fixtures, defined once: a session fixture imported into two modules would be two fixtures,
# and the second to start in a worker would find the first still serving (localstripe allows one per process).
pytest_plugins = ("tests.stripe_emulator",)


def _worker_redis_url(url: str | None) -> str | None:
    """Under pytest-xdist each worker gets its own Redis database, base + 1 + its index (gw0 -> base + 1, ...):
    the harness empties the database before every test, which would wipe the other workers' data."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, ...: set only in xdist workers
    if not url or not worker:
        return url
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return parts._replace(path=f"/{base + 1 + int(worker.removeprefix('gw'))}").geturl()


REDIS_URL = _worker_redis_url(os.environ.get("TEST_REDIS_URL"))


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing():  # noqa: ANN201
    """Argon2 at production cost takes most of a second per hash on a busy CI machine and the suite hashes
    thousands of times: same algorithm and code path, minimal cost. The cached dummy hash (unknown-email
    timing) is dropped on both sides so it always matches the hasher in use."""
    production = security._hasher
    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    security._dummy_hash.cache_clear()
    yield
    security._hasher = production
    security._dummy_hash.cache_clear()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """schemathesis names its tests per operation (`test_api_conforms_to_its_schema[GET /api/v1/...]`), but pytest 9
    builds the node id from the function name and pytest's own parameters only, so they would all share one id:
    reports and progress could not tell them apart, and xdist schedulers that key on ids would run only one."""
    for item in items:
        params = item.name.partition("[")[2].removesuffix("]")
        if params and item.id.params is None:
            item._id = item.id.with_params(params)
    duplicates = [nodeid for nodeid, n in Counter(item.nodeid for item in items).items() if n > 1]
    if duplicates:
        raise pytest.UsageError(f"tests sharing a node id (xdist could skip some of them): {duplicates}")


def pytest_report_header() -> list[str]:
    return [f"database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite'}; redis: {REDIS_URL or 'in-memory'}"]


async def _pg_admin(sql: str, url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


def create_pg_database(name: str, template: str | None = None) -> str:
    """A new PostgreSQL database for the suite (replacing any left by a killed run), on the server of
    TEST_DATABASE_URL. Its commits do not wait for the disk (`synchronous_commit = off`): a test never
    survives a PostgreSQL crash, and waiting for each flush made a test on PostgreSQL several times slower."""
    async def create() -> None:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', PG_URL)
        await _pg_admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""), PG_URL)
        await _pg_admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off', PG_URL)

    asyncio.run(create())
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate an empty database once per run: a template SQLite file, or a fresh PostgreSQL database."""
    if PG_URL:
        name = f"myhibachi_test_{os.getpid()}"
        url_str = create_pg_database(name)
        upgrade_to_head(url_str)
        yield url_str
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', PG_URL))
        return
    template = tmp_path_factory.mktemp("db") / "template.sqlite"
    upgrade_to_head(f"sqlite+aiosqlite:///{template}")
    yield str(template)


async def _empty_postgres(url: str) -> None:
    """Empty every table and restart its ids, in one round trip (a script in the simple query protocol, one implicit
    transaction). DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE's new files and their flush cost more
    than deleting them. The replica role skips foreign-key triggers and lets the harness empty audit_log, which the
    app never can."""
    connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await connection.execute(_EMPTY_SCRIPT)
    finally:
        await connection.close()


_EMPTY_SCRIPT = "; ".join([
    "SET session_replication_role = replica",
    *(f'DELETE FROM "{table.name}"' for table in reversed(metadata.sorted_tables)),
    "SELECT setval(oid, 1, false) FROM pg_class WHERE relkind = 'S'"])


@pytest.fixture
async def database_url(migrated_database: str, tmp_path: Path) -> str:
    if PG_URL:
        await _empty_postgres(migrated_database)
        return migrated_database
    path = tmp_path / "test.sqlite"
    shutil.copyfile(migrated_database, path)
    return f"sqlite+aiosqlite:///{path}"


@dataclass(frozen=True)
class DemoTemplate:
    """The whole demo (stations, users, chefs, every station's history), seeded once, for tests to copy."""

    url: str
    seeded_as_of: datetime  # the one instant the whole seed was written as of: the history's "now"
    reports: list[StationHistory]

    def dump(self) -> str:
        return json.dumps({"url": self.url, "seeded_as_of": self.seeded_as_of.isoformat(),
                           "reports": [asdict(r) for r in self.reports]})

    @classmethod
    def load(cls, text: str) -> DemoTemplate:
        data = json.loads(text)
        return cls(data["url"], datetime.fromisoformat(data["seeded_as_of"]),
                   [StationHistory(**report) for report in data["reports"]])


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory, worker_id: str,
                  testrun_uid: str) -> Iterator[DemoTemplate]:
    """Seeding the history takes seconds per station: done once per run (the first xdist worker that asks seeds,
    under a lock, and the others read what it wrote), then copied for each test."""
    if worker_id == "master":  # no xdist: this process alone
        template = _seed_demo_template(tmp_path_factory, f"myhibachi_demo_{os.getpid()}")
        yield template
        _drop_demo_template(template)
        return
    shared = tmp_path_factory.getbasetemp().parent  # this run's, common to its workers
    with open(shared / "demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = shared / "demo.json"
        if saved.exists():
            yield DemoTemplate.load(saved.read_text())
            return
        template = _seed_demo_template(tmp_path_factory, f"myhibachi_demo_{testrun_uid[:16]}")
        saved.write_text(template.dump())
    yield template  # the master drops it when every worker is done (pytest_sessionfinish)


def _seed_demo_template(tmp_path_factory: pytest.TempPathFactory, name: str) -> DemoTemplate:
    url_str = create_pg_database(name) if PG_URL else \
        f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite'}"
    upgrade_to_head(url_str)
    reports: list[StationHistory] = []
    settings = Settings(_env_file=None, environment=Environment.test, secret_key=TEST_SECRET,  # type: ignore[call-arg]
                        database_url=url_str, mail_dir=tmp_path_factory.mktemp("demo-mail"))

    async def seed() -> None:
        db = Database(url_str)
        try:
            await seed_demo(db, settings, progress=reports.append)
        finally:
            await db.dispose()

    # The whole seed as of one instant: a test's clock set to it sees nothing fall due that the seed had not yet
    # written, however long seeding took (seconds in which a reminder may come due, as it would for `seed-demo`).
    seeded_as_of = datetime.now(UTC)
    with as_of(seeded_as_of):
        asyncio.run(seed())
    return DemoTemplate(url_str, seeded_as_of, reports)


def _drop_demo_template(template: DemoTemplate) -> None:
    if PG_URL:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{make_url(template.url).database}" WITH (FORCE)', PG_URL))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The xdist master, once its workers are done: drop the run's shared demo database, if one was seeded (the
    workers' temporary directories are inside the master's)."""
    if not PG_URL or hasattr(session.config, "workerinput"):
        return
    saved = session.config._tmp_path_factory.getbasetemp() / "demo.json"  # type: ignore[attr-defined]
    if saved.exists():
        _drop_demo_template(DemoTemplate.load(saved.read_text()))


@pytest.fixture
async def demo_database_url(demo_template: DemoTemplate, tmp_path: Path) -> AsyncIterator[str]:
    """A copy of the seeded demo for one test (a file copy, or a PostgreSQL database made from it as a template)."""
    if not PG_URL:
        path = tmp_path / "demo.sqlite"
        shutil.copyfile(make_url(demo_template.url).database, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = make_url(demo_template.url).database
    copy = f"{template}_{os.getpid()}_{next(_copies)}"  # each worker its own copies of the run's template
    yield await asyncio.to_thread(create_pg_database, copy, template)
    await _pg_admin(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)', PG_URL)


_copies = itertools.count(1)


@pytest.fixture
async def redis_url() -> AsyncIterator[str | None]:
    if REDIS_URL:
        from redis.asyncio import Redis

        client = Redis.from_url(REDIS_URL)
        await client.flushdb()
        await client.aclose()
    yield REDIS_URL


@pytest.fixture
def settings(database_url: str, redis_url: str | None, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment=Environment.test,
        secret_key=TEST_SECRET,
        database_url=database_url,
        redis_url=redis_url,
        mail_dir=tmp_path / "mail",
        outbox_dir=tmp_path / "outbox",
        jobs_inline=True,
        base_url="http://testserver",
        booking_holds_per_ip=1000,  # every test books from one client address; the throttle has its own test
    )


@pytest.fixture(scope="session")
def shared_app():  # noqa: ANN201
    """One app per test process: building FastAPI's routes costs about a second, a test's runtime far less."""
    return create_app(Settings(_env_file=None, environment=Environment.test, secret_key=TEST_SECRET))  # type: ignore[call-arg]


@pytest.fixture
async def app(shared_app, settings: Settings):  # noqa: ANN001, ANN201
    """The app with this test's own runtime: database, cache, jobs, mail and throttles built from `settings`."""
    configure_logging(settings)
    use_runtime(shared_app, Runtime(settings))
    async with LifespanManager(shared_app):
        yield shared_app


@pytest.fixture
async def fresh_app(settings: Settings):  # noqa: ANN201
    """An app of its own, for tests of what lives in the app itself (its HTTP metrics, title, CORS)."""
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
def runtime(app) -> Runtime:  # noqa: ANN001
    return app.state.runtime


@pytest.fixture
def db(runtime: Runtime) -> Database:
    return runtime.db


@pytest.fixture
async def client(app) -> AsyncIterator[AsyncClient]:  # noqa: ANN001
    """Like a browser on the site's own pages, it says where its requests come from (Origin); the tests of that
    check send another origin or none."""
    transport = ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with AsyncClient(transport=transport, base_url="http://testserver",
                           headers={"Origin": "http://testserver"}) as http:
        yield http


@pytest.fixture
def scrape_metrics(app) -> Callable[[], Awaitable[str]]:  # noqa: ANN001
    """What Prometheus reads at /metrics: it is served to loopback only, so read as a scraper on this host."""

    async def scrape() -> str:
        transport = ASGITransport(app=app, client=("127.0.0.1", 50001))
        async with AsyncClient(transport=transport, base_url="http://testserver") as local:
            response = await local.get("/metrics")
        assert response.status_code == 200, response.text
        return response.text

    return scrape


def station_data(code: str, timezone: str = "America/Los_Angeles") -> StationCreate:
    return StationCreate(code=code, name=f"Station {code}", timezone=timezone, latitude=37.5, longitude=-122.0,
                         address=Address(line1="1 Main St", city="Fremont", state="CA", zip_code="94538"))


@pytest.fixture
def make_station(db: Database) -> Callable[..., Awaitable[Station]]:
    async def make(code: str = "FRE", timezone: str = "America/Los_Angeles") -> Station:
        async with db.transaction() as session:
            station, _ = await ensure_station(session, station_data(code, timezone))
            return station

    return make


@pytest.fixture
def make_user(db: Database, settings: Settings) -> Callable[..., Awaitable[int]]:
    async def make(email: str, role: Role | str, station: Station | None = None, *,
                   password: str | None = PASSWORD, name: str = "Test User") -> int:
        async with db.transaction() as session:
            user = await create_user(session, settings, SYSTEM, UserCreate(
                email=email, name=name, role=Role(role), password=password,
                station_id=station.id if station else None))
            return user.id

    return make


@pytest.fixture
def login(client: AsyncClient) -> Callable[..., Awaitable[dict[str, str]]]:
    """Sign in and return the Authorization header."""

    async def sign_in(email: str, password: str = PASSWORD) -> dict[str, str]:
        response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return sign_in


def mail_files(settings: Settings) -> list[Path]:
    return sorted(settings.mail_dir.glob("*.eml")) if settings.mail_dir.exists() else []


def read_mails(settings: Settings) -> list[EmailMessage]:
    """The .eml files written so far, parsed, oldest first (by file time: the test clock may be frozen)."""
    paths = sorted(mail_files(settings), key=lambda path: path.stat().st_mtime_ns)
    return [message_from_bytes(path.read_bytes(), policy=policy.default) for path in paths]


def mail_text(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()
