"""Per-day totals of the ledger by station, local day and method: what analytics sum instead of reading every
payment of a range (a station-year is at most 366 days x 5 methods rows, whatever its number of payments).

Kept by the ORM flush itself, so no command has to remember them: before a flush, what the payments and refunds
it changes or deletes counted is taken off; after it, what the new and changed rows count is added, in the same
transaction, with one upsert that adds to the counters (`x = x + excluded.x`, safe under concurrency on both
databases). The station's zone is read under a share lock, so a zone change (which rebuilds the station's rows
in its own flush, under the station's row lock) and a payment are applied one after the other. Anything that writes
the ledger around the ORM's unit of work (bulk INSERT or UPDATE statements: the benchmarks' seeding) must run
`rebuild_day_totals` (`myhibachi rebuild-day-totals`); migration 0018 backfilled the same sums with its own SQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Integer,
    String,
    cast,
    delete,
    event,
    func,
    insert,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, attributes, mapped_column

from myhibachi.core.db import Base
from myhibachi.payments.models import Payment, PaymentPurpose, PaymentStatus, Refund, RefundStatus
from myhibachi.stations.models import Station


class PaymentDayTotal(Base):
    __tablename__ = "payment_day_totals"

    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True)  # derived
    local_day: Mapped[date] = mapped_column(Date, primary_key=True)  # in the station's time zone
    method: Mapped[str] = mapped_column(String(20), primary_key=True)
    paid_count: Mapped[int] = mapped_column(Integer)  # succeeded payments, by the day they succeeded
    paid_cents: Mapped[int] = mapped_column(BigInteger)
    deposit_cents: Mapped[int] = mapped_column(BigInteger)  # of paid_cents, the deposits
    refunded_count: Mapped[int] = mapped_column(Integer)  # succeeded refunds, by the day they were made
    refunded_cents: Mapped[int] = mapped_column(BigInteger)


COUNTERS = ("paid_count", "paid_cents", "deposit_cents", "refunded_count", "refunded_cents")
_TAKEN_OFF = "payment_day_totals.taken_off"  # session.info: the old rows' entries, from before_flush to after_flush


@dataclass(frozen=True)
class Entry:
    """What one ledger row adds to its station's day: the counters, in COUNTERS' order."""
    station_id: int
    moment: datetime
    method: str
    figures: tuple[int, ...]

    def negated(self) -> Entry:
        return Entry(self.station_id, self.moment, self.method, tuple(-figure for figure in self.figures))


def payment_entry(station_id: int, succeeded_at: datetime, method: str, purpose: str, cents: int) -> Entry:
    return Entry(station_id, succeeded_at, method, (1, cents, cents if purpose == PaymentPurpose.deposit else 0, 0, 0))


def refund_entry(station_id: int, created_at: datetime, method: str, cents: int) -> Entry:
    return Entry(station_id, created_at, method, (0, 0, 0, 1, cents))


def _entry_of(row: Payment | Refund, read: Callable[[Any, str], Any]) -> Entry | None:
    """What `row` counts (None: nothing), its columns read with `read` (the stored or the current values)."""
    if isinstance(row, Payment):
        if read(row, "status") != PaymentStatus.succeeded or (at := read(row, "succeeded_at")) is None:
            return None
        return payment_entry(read(row, "station_id"), at, read(row, "method"), read(row, "purpose"),
                             read(row, "amount_cents"))
    if read(row, "status") != RefundStatus.succeeded:
        return None
    return refund_entry(read(row, "station_id"), read(row, "created_at"), read(row, "method"),
                        read(row, "amount_cents"))


def _stored(row: Any, key: str) -> Any:
    """The value the database holds (the columns read here load their old value when set: active_history)."""
    history = attributes.get_history(row, key)
    return history.deleted[0] if history.deleted else getattr(row, key)


@event.listens_for(Session, "before_flush")
def _take_off_old(session: Session, _context: Any, _instances: Any) -> None:
    session.info[_TAKEN_OFF] = [entry.negated() for row in (*session.dirty, *session.deleted)
                                if isinstance(row, Payment | Refund) and (entry := _entry_of(row, _stored))]


@event.listens_for(Session, "after_flush")
def _add_new(session: Session, _context: Any) -> None:
    entries: list[Entry] = session.info.pop(_TAKEN_OFF, [])
    entries += [entry for row in (*session.new, *session.dirty)
                if isinstance(row, Payment | Refund) and (entry := _entry_of(row, getattr))]
    rezoned = {row.id for row in session.dirty
               if isinstance(row, Station) and attributes.get_history(row, "timezone").has_changes()}
    if not entries and not rezoned:
        return
    connection = session.connection()
    add_to_day_totals(connection, [entry for entry in entries if entry.station_id not in rezoned])
    if rezoned:
        rebuild_day_totals(connection, rezoned)


def add_to_day_totals(connection: Connection, entries: list[Entry]) -> None:
    """Add the entries to their stations' days (in each station's zone, read under a share lock)."""
    if not entries:
        return
    zones = {station_id: ZoneInfo(zone) for station_id, zone in connection.execute(
        select(Station.id, Station.timezone).where(Station.id.in_({e.station_id for e in entries}))
        .with_for_update(read=True))}
    sums: dict[tuple[int, date, str], list[int]] = defaultdict(lambda: [0] * len(COUNTERS))
    for entry in entries:
        figures = sums[entry.station_id, entry.moment.astimezone(zones[entry.station_id]).date(), entry.method]
        figures[:] = [a + b for a, b in zip(figures, entry.figures, strict=True)]
    rows = [{"station_id": station_id, "local_day": day, "method": method, **dict(zip(COUNTERS, figures, strict=True))}
            for (station_id, day, method), figures in sorted(sums.items()) if any(figures)]  # sorted: one lock order
    if rows:
        connection.execute(_upsert(connection.dialect.name), rows)


def _upsert(dialect: str) -> Any:
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(PaymentDayTotal)
    table = PaymentDayTotal.__table__
    return stmt.on_conflict_do_update(
        index_elements=[table.c.station_id, table.c.local_day, table.c.method],
        set_={name: table.c[name] + stmt.excluded[name] for name in COUNTERS})


# --- rebuilding from the ledger -------------------------------------------------------------------------------


def rebuild_day_totals(connection: Connection, station_ids: Iterable[int] | None = None) -> None:
    """Recompute the rows of these stations (None: of every station) from the ledger, in each one's current zone:
    after a zone change, and after writes around the ORM. PostgreSQL in one statement; SQLite, which has no zones,
    through the same upsert as the flush."""
    ids = None if station_ids is None else sorted(station_ids)
    table = PaymentDayTotal.__table__
    connection.execute(delete(table).where(*_of_stations(table.c.station_id, ids)))
    if connection.dialect.name == "postgresql":
        connection.execute(insert(table).from_select(["station_id", "local_day", "method", *COUNTERS],
                                                     _ledger_days(ids)))
        return
    payments = connection.execute(select(Payment.station_id, Payment.succeeded_at, Payment.method, Payment.purpose,
                                         Payment.amount_cents).where(*_succeeded_payments(ids)))
    refunds = connection.execute(select(Refund.station_id, Refund.created_at, Refund.method, Refund.amount_cents)
                                 .where(*_succeeded_refunds(ids)))
    add_to_day_totals(connection, [*(payment_entry(*row) for row in payments),
                                   *(refund_entry(*row) for row in refunds)])


def _of_stations(column: Any, ids: list[int] | None) -> list[Any]:
    return [] if ids is None else [column.in_(ids)]


def _succeeded_payments(ids: list[int] | None) -> list[Any]:
    return [Payment.status == PaymentStatus.succeeded.value, Payment.succeeded_at.is_not(None),
            *_of_stations(Payment.station_id, ids)]


def _succeeded_refunds(ids: list[int] | None) -> list[Any]:
    return [Refund.status == RefundStatus.succeeded.value, *_of_stations(Refund.station_id, ids)]


def _ledger_days(ids: list[int] | None) -> Any:
    """PostgreSQL: the rows of payment_day_totals, grouped from the ledger with AT TIME ZONE."""
    def local_day(moment: Any) -> Any:
        return cast(func.timezone(Station.timezone, moment), Date).label("local_day")

    cents = func.sum(Payment.amount_cents)
    paid = (select(Payment.station_id, local_day(Payment.succeeded_at), Payment.method.label("method"),
                   func.count().label("paid_count"), cents.label("paid_cents"),
                   func.coalesce(cents.filter(Payment.purpose == PaymentPurpose.deposit.value), 0)
                   .label("deposit_cents"), literal(0).label("refunded_count"), literal(0).label("refunded_cents"))
            .join(Station, Station.id == Payment.station_id).where(*_succeeded_payments(ids))
            .group_by(Payment.station_id, literal_column("local_day"), Payment.method))
    refunded = (select(Refund.station_id, local_day(Refund.created_at), Refund.method.label("method"),
                       literal(0), literal(0), literal(0), func.count(), func.sum(Refund.amount_cents))
                .join(Station, Station.id == Refund.station_id).where(*_succeeded_refunds(ids))
                .group_by(Refund.station_id, literal_column("local_day"), Refund.method))
    both = union_all(paid, refunded).subquery()
    return (select(both.c.station_id, both.c.local_day, both.c.method,
                   *(func.sum(both.c[name]) for name in COUNTERS))
            .group_by(both.c.station_id, both.c.local_day, both.c.method))
