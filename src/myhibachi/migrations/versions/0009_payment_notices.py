"""payments: payment_notices (the customer's "I've sent it") and deposit_reminders (one reminder per unpaid hold)

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('payment_notices',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('booking_id', BIG_ID, nullable=False),
    sa.Column('station_id', BIG_ID, nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_payment_notices_booking_id_bookings'),
                            ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_payment_notices_station_id_stations'),
                            ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_notices'))
    )
    with op.batch_alter_table('payment_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_notices_booking_id'), ['booking_id'], unique=False)

    op.create_table('deposit_reminders',
    sa.Column('booking_id', BIG_ID, nullable=False),
    sa.Column('hold_expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_deposit_reminders_booking_id_bookings'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('booking_id', name=op.f('pk_deposit_reminders'))
    )


def downgrade() -> None:
    op.drop_table('deposit_reminders')
    with op.batch_alter_table('payment_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_notices_booking_id'))

    op.drop_table('payment_notices')
