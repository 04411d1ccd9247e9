"""bookings: customers, bookings, idempotency keys, and the capacity backstop triggers

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
HOLDING = "('pending_deposit', 'confirmed')"
# The backstop behind the capacity check of bookings/locks.py: whatever the code does, the database refuses a chef
# in two overlapping events, and more events at a station at any one moment than it has active chefs.
OTHER_HOLDS = f"b.id IS DISTINCT FROM NEW.id AND b.station_id = NEW.station_id AND b.status IN {HOLDING}"
CHEF_CLASH = f"NEW.chef_id IS NOT NULL AND EXISTS (SELECT 1 FROM bookings b WHERE {OTHER_HOLDS} " \
             f"AND b.chef_id = NEW.chef_id AND b.busy_start < NEW.busy_end AND b.busy_end > NEW.busy_start)"
# Events running at once peak at the new window's start or where another event starts inside it.
PEAK_HOLDS = f"""(SELECT max((SELECT count(*) FROM bookings b WHERE {OTHER_HOLDS}
                         AND b.busy_start <= p.t AND b.busy_end > p.t))
     FROM (SELECT NEW.busy_start AS t UNION SELECT b.busy_start FROM bookings b WHERE {OTHER_HOLDS}
           AND b.busy_start > NEW.busy_start AND b.busy_start < NEW.busy_end) AS p)"""
OVER_CAPACITY = f"{PEAK_HOLDS} >= (SELECT count(*) FROM chefs c WHERE c.station_id = NEW.station_id AND c.is_active)"
SQLITE_TRIGGER = """
CREATE TRIGGER bookings_capacity_backstop_{event} BEFORE {event_sql} ON bookings
WHEN NEW.status IN {holding}
BEGIN
    SELECT RAISE(ABORT, 'chef_double_booked') WHERE {chef_clash};
    SELECT RAISE(ABORT, 'slot_unavailable') WHERE {over_capacity};
END
"""
# On PostgreSQL the trigger first takes the station-day advisory locks of bookings/locks.py (same keys, ascending;
# re-taking one this transaction holds is free), so its counts see every committed competitor even for a writer
# that skipped them. SQLite needs no lock: one writer at a time.
PG_FUNCTION = f"""
CREATE FUNCTION bookings_capacity_backstop() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    zone text;
    day date;
BEGIN
    IF NEW.status NOT IN {HOLDING} THEN
        RETURN NEW;
    END IF;
    SELECT timezone INTO zone FROM stations WHERE id = NEW.station_id;
    FOR day IN SELECT DISTINCT d FROM unnest(ARRAY[NEW.event_date, (NEW.busy_start AT TIME ZONE zone)::date,
                                                  (NEW.busy_end AT TIME ZONE zone)::date]) AS d ORDER BY d LOOP
        PERFORM pg_advisory_xact_lock((NEW.station_id::bigint << 20) + (day - DATE '0001-01-01') + 1);
    END LOOP;
    IF {CHEF_CLASH} THEN
        RAISE EXCEPTION 'chef_double_booked' USING ERRCODE = '23P01';
    END IF;
    IF {OVER_CAPACITY} THEN
        RAISE EXCEPTION 'slot_unavailable' USING ERRCODE = '23P01';
    END IF;
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.create_table('customers',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('email', name=op.f('uq_customers_email'))
    )
    op.create_table('bookings',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('reference', sa.String(length=12), nullable=False),
    sa.Column('station_id', BIG_ID, nullable=False),
    sa.Column('customer_id', BIG_ID, nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('event_date', sa.Date(), nullable=False),
    sa.Column('slot_time', sa.String(length=5), nullable=False),
    sa.Column('event_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('busy_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('busy_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('chef_id', BIG_ID, nullable=True),
    sa.Column('adults', sa.Integer(), nullable=False),
    sa.Column('children', sa.Integer(), nullable=False),
    sa.Column('toddlers', sa.Integer(), nullable=False),
    sa.Column('upgrades', sa.JSON(), nullable=False),
    sa.Column('extra_proteins', sa.JSON(), nullable=False),
    sa.Column('addons', sa.JSON(), nullable=False),
    sa.Column('quote', sa.JSON(), nullable=False),
    sa.Column('fees_cents', sa.Integer(), nullable=False),
    sa.Column('venue_line1', sa.String(length=200), nullable=False),
    sa.Column('venue_line2', sa.String(length=200), nullable=True),
    sa.Column('venue_city', sa.String(length=100), nullable=False),
    sa.Column('venue_state', sa.String(length=2), nullable=False),
    sa.Column('venue_zip', sa.String(length=10), nullable=False),
    sa.Column('allergies', sa.Text(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('manage_nonce', sa.String(length=32), nullable=False),
    sa.Column('manage_token_hash', sa.String(length=64), nullable=False),
    sa.Column('hold_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reschedule_count', sa.Integer(), nullable=False),
    sa.Column('cancel_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_requested_by_user_id', BIG_ID, nullable=True),
    sa.Column('cancel_request_reason', sa.Text(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('refund_owed_cents', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminder_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cancel_requested_by_user_id'], ['users.id'], name=op.f('fk_bookings_cancel_requested_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['chef_id'], ['chefs.id'], name=op.f('fk_bookings_chef_id_chefs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_bookings_customer_id_customers')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_bookings_station_id_stations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bookings')),
    sa.UniqueConstraint('manage_token_hash', name=op.f('uq_bookings_manage_token_hash')),
    sa.UniqueConstraint('reference', name=op.f('uq_bookings_reference'))
    )
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bookings_chef_id'), ['chef_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bookings_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_bookings_station_busy', ['station_id', 'busy_start'], unique=False)
        batch_op.create_index('ix_bookings_station_event_date', ['station_id', 'event_date'], unique=False)
        batch_op.create_index('ix_bookings_status_event_start', ['status', 'event_start'], unique=False)

    op.create_table('booking_idempotency_keys',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('booking_id', BIG_ID, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_booking_idempotency_keys_booking_id_bookings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_idempotency_keys')),
    sa.UniqueConstraint('booking_id', name=op.f('uq_booking_idempotency_keys_booking_id')),
    sa.UniqueConstraint('key', name=op.f('uq_booking_idempotency_keys_key'))
    )
    _create_backstop()


def _create_backstop() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute("CREATE TRIGGER bookings_capacity_backstop BEFORE INSERT OR UPDATE OF status, busy_start, "
                   "busy_end, chef_id ON bookings FOR EACH ROW EXECUTE FUNCTION bookings_capacity_backstop()")
        return
    for event, event_sql in (("insert", "INSERT"), ("update", "UPDATE OF status, busy_start, busy_end, chef_id")):
        op.execute(SQLITE_TRIGGER.format(event=event, event_sql=event_sql, holding=HOLDING, chef_clash=CHEF_CLASH,
                                         over_capacity=OVER_CAPACITY))


def downgrade() -> None:
    op.drop_table('booking_idempotency_keys')
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_index('ix_bookings_status_event_start')
        batch_op.drop_index('ix_bookings_station_event_date')
        batch_op.drop_index('ix_bookings_station_busy')
        batch_op.drop_index(batch_op.f('ix_bookings_customer_id'))
        batch_op.drop_index(batch_op.f('ix_bookings_chef_id'))

    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS bookings_capacity_backstop ON bookings")
        op.execute("DROP FUNCTION IF EXISTS bookings_capacity_backstop()")
    op.drop_table('bookings')
    op.drop_table('customers')
