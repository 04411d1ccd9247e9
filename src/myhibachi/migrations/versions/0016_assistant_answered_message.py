"""The website assistant remembers the latest visitor message it answered (a reply is composed outside the
transaction that posts it, so posting checks this to answer each message once)

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('assistant_memories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answered_message_id', BIG_ID, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('assistant_memories', schema=None) as batch_op:
        batch_op.drop_column('answered_message_id')
