"""analytics: per-day totals of the ledger by station, local day and method, kept as payments and refunds are
written, backfilled here from the existing ledger

Revision ID: 0018
Revises: 0017
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'payment_day_totals',
        sa.Column('station_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('local_day', sa.Date(), nullable=False),
        sa.Column('method', sa.String(length=20), nullable=False),
        sa.Column('paid_count', sa.Integer(), nullable=False),
        sa.Column('paid_cents', sa.BigInteger(), nullable=False),
        sa.Column('deposit_cents', sa.BigInteger(), nullable=False),
        sa.Column('refunded_count', sa.Integer(), nullable=False),
        sa.Column('refunded_cents', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_payment_day_totals_station_id_stations'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('station_id', 'local_day', 'method', name=op.f('pk_payment_day_totals')),
    )
    _backfill(op.get_bind())


# The backfill is the ledger as it was at this revision, written out here: a migration must not run the app's code of
# a later day (`payments.day_totals.rebuild_day_totals` does the same for today's schema).
_LEDGER_DAYS = """
SELECT station_id, local_day, method, sum(paid_count), sum(paid_cents), sum(deposit_cents), sum(refunded_count),
       sum(refunded_cents)
FROM (SELECT p.station_id, (p.succeeded_at AT TIME ZONE s.timezone)::date AS local_day, p.method,
             count(*) AS paid_count, sum(p.amount_cents) AS paid_cents,
             coalesce(sum(p.amount_cents) FILTER (WHERE p.purpose = 'deposit'), 0) AS deposit_cents,
             0 AS refunded_count, 0 AS refunded_cents
      FROM payments p JOIN stations s ON s.id = p.station_id
      WHERE p.status = 'succeeded' AND p.succeeded_at IS NOT NULL
      GROUP BY 1, 2, 3
      UNION ALL
      SELECT r.station_id, (r.created_at AT TIME ZONE s.timezone)::date, r.method, 0, 0, 0, count(*),
             sum(r.amount_cents)
      FROM refunds r JOIN stations s ON s.id = r.station_id
      WHERE r.status = 'succeeded'
      GROUP BY 1, 2, 3) AS ledger
GROUP BY station_id, local_day, method
"""
_COLUMNS = "station_id, local_day, method, paid_count, paid_cents, deposit_cents, refunded_count, refunded_cents"


def _backfill(connection: sa.Connection) -> None:
    """PostgreSQL groups by local day itself; SQLite (no zones) here, from its naive UTC times."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text(f"INSERT INTO payment_day_totals ({_COLUMNS}) {_LEDGER_DAYS}"))
        return
    zones = {station_id: ZoneInfo(zone) for station_id, zone in connection.execute(
        sa.text("SELECT id, timezone FROM stations"))}
    sums: defaultdict[tuple[int, object, str], list[int]] = defaultdict(lambda: [0] * 5)

    def add(station_id: int, moment: str | datetime, method: str, figures: tuple[int, ...]) -> None:
        utc = (moment if isinstance(moment, datetime) else datetime.fromisoformat(moment)).replace(tzinfo=UTC)
        day_sums = sums[station_id, utc.astimezone(zones[station_id]).date(), method]
        day_sums[:] = [a + b for a, b in zip(day_sums, figures, strict=True)]

    for station_id, moment, method, purpose, cents in connection.execute(sa.text(
            "SELECT station_id, succeeded_at, method, purpose, amount_cents FROM payments "
            "WHERE status = 'succeeded' AND succeeded_at IS NOT NULL")):
        add(station_id, moment, method, (1, cents, cents if purpose == "deposit" else 0, 0, 0))
    for station_id, moment, method, cents in connection.execute(sa.text(
            "SELECT station_id, created_at, method, amount_cents FROM refunds WHERE status = 'succeeded'")):
        add(station_id, moment, method, (0, 0, 0, 1, cents))
    if sums:
        connection.execute(sa.text(f"INSERT INTO payment_day_totals ({_COLUMNS}) VALUES (:station_id, :local_day, "
                                   ":method, :paid_count, :paid_cents, :deposit_cents, :refunded_count, "
                                   ":refunded_cents)"),
                           [{"station_id": station_id, "local_day": day, "method": method,
                             **dict(zip(("paid_count", "paid_cents", "deposit_cents", "refunded_count",
                                         "refunded_cents"), figures, strict=True))}
                            for (station_id, day, method), figures in sums.items()])


def downgrade() -> None:
    op.drop_table('payment_day_totals')
