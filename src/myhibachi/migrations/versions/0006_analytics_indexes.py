"""analytics: a covering index of payments by station and time received; refunds carry their payment's station

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_payments_station_succeeded', 'payments',
                    ['station_id', 'succeeded_at', 'status', 'method', 'amount_cents'], unique=False)
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('station_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                                      nullable=True))
    op.execute("UPDATE refunds SET station_id = (SELECT payments.station_id FROM payments "
               "WHERE payments.id = refunds.payment_id)")
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.alter_column('station_id', nullable=False)
        batch_op.create_foreign_key(batch_op.f('fk_refunds_station_id_stations'), 'stations', ['station_id'], ['id'],
                                    ondelete='RESTRICT')
        batch_op.create_index('ix_refunds_station_created', ['station_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index('ix_refunds_station_created')
        batch_op.drop_constraint(batch_op.f('fk_refunds_station_id_stations'), type_='foreignkey')
        batch_op.drop_column('station_id')
    op.drop_index('ix_payments_station_succeeded', table_name='payments')
