"""consent: the append-only ledger of grants, confirmations and withdrawals per contact, channel and purpose

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import myhibachi.core.db

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'consent_events',
        sa.Column('id', BIG_ID, nullable=False),
        sa.Column('contact_id', BIG_ID, nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('purpose', sa.String(length=20), nullable=False),
        sa.Column('action', sa.String(length=20), nullable=False),
        sa.Column('source', sa.String(length=30), nullable=False),
        sa.Column('station_id', BIG_ID, nullable=True),
        sa.Column('ip', sa.String(length=45), nullable=True),
        sa.Column('at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_consent_events_contact_id_contacts'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_consent_events_station_id_stations'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_events')),
    )
    op.create_index('ix_consent_events_contact_channel_purpose', 'consent_events',
                    ['contact_id', 'channel', 'purpose', 'id'])


def downgrade() -> None:
    op.drop_index('ix_consent_events_contact_channel_purpose', table_name='consent_events')
    op.drop_table('consent_events')
