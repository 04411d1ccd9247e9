"""CRM part 2: opt-outs, suppressions and contact tags; segments, campaigns, their recipients, tracking and
bounces; automations; private feedback and contact tasks; a booking's occasion and a consent event's detail

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import myhibachi.core.db

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

def upgrade() -> None:
    op.create_table('suppressions',
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=30), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('email', name=op.f('pk_suppressions'))
    )
    op.create_table('automations',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('station_id', BIG_ID, nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('live_since', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_automations_station_id_stations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automations')),
    sa.UniqueConstraint('station_id', 'kind', name='uq_automations_station_kind')
    )
    op.create_table('consent_opt_outs',
    sa.Column('contact_id', BIG_ID, nullable=False),
    sa.Column('scope', sa.String(length=10), nullable=False),
    sa.Column('value', sa.String(length=40), nullable=False),
    sa.Column('at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_consent_opt_outs_contact_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('contact_id', 'scope', 'value', name=op.f('pk_consent_opt_outs'))
    )
    op.create_table('contact_tags',
    sa.Column('contact_id', BIG_ID, nullable=False),
    sa.Column('tag', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_contact_tags_contact_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('contact_id', 'tag', name=op.f('pk_contact_tags'))
    )
    with op.batch_alter_table('contact_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_tags_tag'), ['tag'], unique=False)

    op.create_table('segments',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('station_id', BIG_ID, nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('created_by_user_id', BIG_ID, nullable=True),
    sa.Column('created_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_segments_created_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_segments_station_id_stations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segments'))
    )
    with op.batch_alter_table('segments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_segments_station_id'), ['station_id'], unique=False)

    op.create_table('automation_steps',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('automation_id', BIG_ID, nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('delay_minutes', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body_markdown', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['automation_id'], ['automations.id'], name=op.f('fk_automation_steps_automation_id_automations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_steps')),
    sa.UniqueConstraint('automation_id', 'position', name='uq_automation_steps_position')
    )
    op.create_table('campaigns',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('station_id', BIG_ID, nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body_markdown', sa.Text(), nullable=False),
    sa.Column('segment_id', BIG_ID, nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('send_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sender_lease', sa.String(length=32), nullable=True),
    sa.Column('sender_lease_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by_user_id', BIG_ID, nullable=True),
    sa.Column('created_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_campaigns_created_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['segment_id'], ['segments.id'], name=op.f('fk_campaigns_segment_id_segments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_campaigns_station_id_stations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns'))
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaigns_station_id'), ['station_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaigns_status'), ['status'], unique=False)

    op.create_table('campaign_recipients',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('campaign_id', BIG_ID, nullable=False),
    sa.Column('contact_id', BIG_ID, nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('claim', sa.String(length=32), nullable=True),
    sa.Column('claimed_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=200), nullable=True),
    sa.Column('sent_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('opened_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('clicked_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('unsubscribed_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('bounced_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('complained_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_recipients_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_campaign_recipients_contact_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_recipients')),
    sa.UniqueConstraint('campaign_id', 'contact_id', name='uq_campaign_recipients_contact')
    )
    with op.batch_alter_table('campaign_recipients', schema=None) as batch_op:
        batch_op.create_index('ix_campaign_recipients_campaign_state', ['campaign_id', 'state', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaign_recipients_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaign_recipients_message_id'), ['message_id'], unique=False)

    op.create_table('feedback',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('booking_id', BIG_ID, nullable=False),
    sa.Column('station_id', BIG_ID, nullable=False),
    sa.Column('contact_id', BIG_ID, nullable=False),
    sa.Column('chef_id', BIG_ID, nullable=True),
    sa.Column('rating', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_feedback_booking_id_bookings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['chef_id'], ['chefs.id'], name=op.f('fk_feedback_chef_id_chefs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_feedback_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_feedback_station_id_stations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback')),
    sa.UniqueConstraint('booking_id', name=op.f('uq_feedback_booking_id'))
    )
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_chef_id'), ['chef_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_station_id'), ['station_id'], unique=False)

    op.create_table('automation_enrollments',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('automation_id', BIG_ID, nullable=False),
    sa.Column('contact_id', BIG_ID, nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('trigger_key', sa.String(length=60), nullable=False),
    sa.Column('booking_id', BIG_ID, nullable=True),
    sa.Column('lead_id', BIG_ID, nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('stop_reason', sa.String(length=200), nullable=True),
    sa.Column('next_position', sa.Integer(), nullable=False),
    sa.Column('next_due_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('enrolled_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['automation_id'], ['automations.id'], name=op.f('fk_automation_enrollments_automation_id_automations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_automation_enrollments_booking_id_bookings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_automation_enrollments_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_automation_enrollments_lead_id_leads'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_enrollments')),
    sa.UniqueConstraint('automation_id', 'trigger_key', name='uq_automation_enrollments_trigger')
    )
    with op.batch_alter_table('automation_enrollments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_automation_enrollments_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index('ix_automation_enrollments_due', ['status', 'next_due_at'], unique=False)

    op.create_table('bounce_events',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('provider_event_id', sa.String(length=200), nullable=False),
    sa.Column('recipient_id', BIG_ID, nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recipient_id'], ['campaign_recipients.id'], name=op.f('fk_bounce_events_recipient_id_campaign_recipients'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bounce_events')),
    sa.UniqueConstraint('provider', 'provider_event_id', name='uq_bounce_events_provider_event')
    )
    with op.batch_alter_table('bounce_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bounce_events_email'), ['email'], unique=False)

    op.create_table('contact_tasks',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('station_id', BIG_ID, nullable=False),
    sa.Column('contact_id', BIG_ID, nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('feedback_id', BIG_ID, nullable=True),
    sa.Column('assignee_id', BIG_ID, nullable=True),
    sa.Column('due_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done_by_user_id', BIG_ID, nullable=True),
    sa.Column('created_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_contact_tasks_assignee_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_contact_tasks_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['done_by_user_id'], ['users.id'], name=op.f('fk_contact_tasks_done_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['feedback_id'], ['feedback.id'], name=op.f('fk_contact_tasks_feedback_id_feedback'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_contact_tasks_station_id_stations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_tasks'))
    )
    with op.batch_alter_table('contact_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_tasks_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index('ix_contact_tasks_station_open', ['station_id', 'done_at', 'due_at'], unique=False)

    op.create_table('tracking_events',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('campaign_id', BIG_ID, nullable=False),
    sa.Column('recipient_id', BIG_ID, nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_tracking_events_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recipient_id'], ['campaign_recipients.id'], name=op.f('fk_tracking_events_recipient_id_campaign_recipients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tracking_events'))
    )
    with op.batch_alter_table('tracking_events', schema=None) as batch_op:
        batch_op.create_index('ix_tracking_events_campaign_at', ['campaign_id', 'at'], unique=False)

    op.create_table('automation_messages',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('enrollment_id', BIG_ID, nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('contact_id', BIG_ID, nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('sent_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_automation_messages_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['enrollment_id'], ['automation_enrollments.id'], name=op.f('fk_automation_messages_enrollment_id_automation_enrollments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_messages')),
    sa.UniqueConstraint('enrollment_id', 'position', name='uq_automation_messages_step')
    )
    with op.batch_alter_table('automation_messages', schema=None) as batch_op:
        batch_op.create_index('ix_automation_messages_contact_sent', ['contact_id', 'sent_at'], unique=False)

    # Plain ADD COLUMN (no table rebuild on SQLite: bookings carries triggers).
    op.add_column('bookings', sa.Column('occasion', sa.String(length=20), nullable=True))
    op.add_column('consent_events', sa.Column('detail', sa.Text(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.drop_column('detail')

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_column('occasion')

    with op.batch_alter_table('automation_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_automation_messages_contact_sent')

    op.drop_table('automation_messages')
    with op.batch_alter_table('tracking_events', schema=None) as batch_op:
        batch_op.drop_index('ix_tracking_events_campaign_at')

    op.drop_table('tracking_events')
    with op.batch_alter_table('contact_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_tasks_station_open')
        batch_op.drop_index(batch_op.f('ix_contact_tasks_contact_id'))

    op.drop_table('contact_tasks')
    with op.batch_alter_table('bounce_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bounce_events_email'))

    op.drop_table('bounce_events')
    with op.batch_alter_table('automation_enrollments', schema=None) as batch_op:
        batch_op.drop_index('ix_automation_enrollments_due')
        batch_op.drop_index(batch_op.f('ix_automation_enrollments_contact_id'))

    op.drop_table('automation_enrollments')
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_station_id'))
        batch_op.drop_index(batch_op.f('ix_feedback_contact_id'))
        batch_op.drop_index(batch_op.f('ix_feedback_chef_id'))

    op.drop_table('feedback')
    with op.batch_alter_table('campaign_recipients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_recipients_message_id'))
        batch_op.drop_index(batch_op.f('ix_campaign_recipients_contact_id'))
        batch_op.drop_index('ix_campaign_recipients_campaign_state')

    op.drop_table('campaign_recipients')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaigns_status'))
        batch_op.drop_index(batch_op.f('ix_campaigns_station_id'))

    op.drop_table('campaigns')
    op.drop_table('automation_steps')
    with op.batch_alter_table('segments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_segments_station_id'))

    op.drop_table('segments')
    with op.batch_alter_table('contact_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_tags_tag'))

    op.drop_table('contact_tags')
    op.drop_table('consent_opt_outs')
    op.drop_table('automations')
    op.drop_table('suppressions')
