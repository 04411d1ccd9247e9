"""The website assistant: what it remembers of a chat between messages, and a conversation's request for a person
(the handoff) with its reason

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import myhibachi.core.db

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('assistant_memories',
    sa.Column('conversation_id', BIG_ID, nullable=False),
    sa.Column('slots', sa.JSON(), nullable=False),
    sa.Column('asked', sa.String(length=40), nullable=True),
    sa.Column('misses', sa.Integer(), nullable=False),
    sa.Column('updated_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_assistant_memories_conversation_id_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('conversation_id', name=op.f('pk_assistant_memories'))
    )
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handoff_requested_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('handoff_reason', sa.String(length=40), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('handoff_reason')
        batch_op.drop_column('handoff_requested_at')

    op.drop_table('assistant_memories')
