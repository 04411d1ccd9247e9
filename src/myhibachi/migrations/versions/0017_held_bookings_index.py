"""bookings: a partial covering index of held bookings by station and date, so availability reads a station's
held windows for a range of dates from the index alone, whatever the station holds in other years

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HELD = sa.text("status IN ('confirmed', 'pending_deposit')")


def upgrade() -> None:
    op.create_index('ix_bookings_station_held', 'bookings', ['station_id', 'event_date'], unique=False,
                    postgresql_include=['busy_start', 'busy_end', 'chef_id', 'status', 'hold_expires_at', 'id'],
                    postgresql_where=HELD, sqlite_where=HELD)


def downgrade() -> None:
    op.drop_index('ix_bookings_station_held', table_name='bookings')
