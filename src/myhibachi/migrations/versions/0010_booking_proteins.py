"""bookings: the base protein choices of each booking, and when the one email asking for them went out

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (a server default lets it be NOT NULL at once): no batch rebuild of the bookings table on
    # SQLite, which would drop migration 0004's capacity triggers. Existing bookings have chosen nothing yet.
    op.add_column('bookings', sa.Column('proteins', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    op.add_column('bookings', sa.Column('proteins_reminder_sent_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('bookings', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('proteins_reminder_sent_at')
        batch_op.drop_column('proteins')
