"""analytics: per-day totals of the ledger by station, local day and method, kept as payments and refunds are
written, backfilled here from the existing ledger

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from myhibachi.payments.day_totals import rebuild_day_totals

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
    rebuild_day_totals(op.get_bind())


def downgrade() -> None:
    op.drop_table('payment_day_totals')
