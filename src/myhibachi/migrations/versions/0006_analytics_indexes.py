"""analytics: payments by station and time received, refunds by time

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_payments_station_succeeded', 'payments', ['station_id', 'succeeded_at'], unique=False)
    op.create_index(op.f('ix_refunds_created_at'), 'refunds', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_refunds_created_at'), table_name='refunds')
    op.drop_index('ix_payments_station_succeeded', table_name='payments')
