"""contacts: customers become contacts (data kept) found by unique handles; bookings keep the email they were made
with; leads, their timeline, the learned models and the site's flow visits

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import myhibachi.core.db

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _customers_become_contacts() -> None:
    """Renamed in place, so every booking keeps its customer. The email is no longer unique on the row (a merge
    leaves two addresses on one person): the handles table is what is unique."""
    sqlite = op.get_bind().dialect.name == 'sqlite'
    op.rename_table('customers', 'contacts')  # SQLite rewrites the bookings' reference too
    if sqlite:
        # The rebuild below drops the table bookings refer to. Foreign keys cannot be switched off inside the
        # migration's transaction, so they are deferred, and the rows are taken out before the rebuild and put back
        # after it: dropping a table with rows leaves each booking counted as a violation that nothing uncounts (a
        # rename inserts no row), and the commit fails; re-inserting the parents uncounts what the delete counted.
        op.execute('PRAGMA defer_foreign_keys = ON')
        op.execute('CREATE TEMPORARY TABLE contacts_kept AS SELECT * FROM contacts')
        op.execute('DELETE FROM contacts')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_constraint('uq_customers_email', type_='unique')
        batch_op.alter_column('email', existing_type=sa.String(254), nullable=True)
        batch_op.alter_column('phone', existing_type=sa.String(20), nullable=True)
        batch_op.create_index(batch_op.f('ix_contacts_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_phone'), ['phone'], unique=False)
    if sqlite:
        op.execute('INSERT INTO contacts (id, email, name, phone, created_at, updated_at) '
                   'SELECT id, email, name, phone, created_at, updated_at FROM contacts_kept')
        op.execute('DROP TABLE contacts_kept')
    if not sqlite:
        op.execute('ALTER TABLE contacts RENAME CONSTRAINT pk_customers TO pk_contacts')
        op.execute('ALTER TABLE bookings RENAME CONSTRAINT fk_bookings_customer_id_customers '
                   'TO fk_bookings_customer_id_contacts')
    # Plain ADD COLUMN (no rebuild of bookings on SQLite, which would drop migration 0004's triggers).
    op.add_column('bookings', sa.Column('contact_email', sa.String(254), nullable=False, server_default=''))
    op.execute('UPDATE bookings SET contact_email = (SELECT contacts.email FROM contacts '
               'WHERE contacts.id = bookings.customer_id)')


def _handles_of_existing_contacts() -> None:
    op.execute("INSERT INTO contact_handles (kind, value, contact_id, created_at) "
               "SELECT 'email', email, id, created_at FROM contacts WHERE email IS NOT NULL")
    # A phone shared by several customers (a family's) finds the first of them.
    op.execute("INSERT INTO contact_handles (kind, value, contact_id, created_at) "
               "SELECT 'phone', phone, MIN(id), MIN(created_at) FROM contacts "
               "WHERE phone IS NOT NULL AND phone <> '' GROUP BY phone")


def upgrade() -> None:
    _customers_become_contacts()
    op.create_table('lead_models',
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('closed', sa.Integer(), nullable=False),
    sa.Column('won', sa.Integer(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('trained_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('station_id', name=op.f('pk_lead_models'))
    )
    op.create_table('contact_handles',
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('value', sa.String(length=254), nullable=False),
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_contact_handles_contact_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('kind', 'value', name=op.f('pk_contact_handles'))
    )
    with op.batch_alter_table('contact_handles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_handles_contact_id'), ['contact_id'], unique=False)
    _handles_of_existing_contacts()

    op.create_table('leads',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('station_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source', sa.String(length=30), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('event_date', sa.Date(), nullable=True),
    sa.Column('guests', sa.Integer(), nullable=True),
    sa.Column('zip_code', sa.String(length=10), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('band', sa.String(length=10), nullable=False),
    sa.Column('score_factors', sa.JSON(), nullable=False),
    sa.Column('probability', sa.Float(), nullable=False),
    sa.Column('probability_factors', sa.JSON(), nullable=False),
    sa.Column('assignee_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('next_follow_up_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('follow_up_reminded_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lost_reason', sa.String(length=40), nullable=True),
    sa.Column('booking_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('closed_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_leads_assignee_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_leads_booking_id_bookings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_leads_contact_id_contacts')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_leads_station_id_stations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leads'))
    )
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_leads_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_leads_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_leads_next_follow_up_at'), ['next_follow_up_at'], unique=False)
        batch_op.create_index('ix_leads_station_status_created', ['station_id', 'status', 'created_at'], unique=False)
        batch_op.create_index('uq_leads_open_per_contact', ['station_id', 'contact_id'], unique=True, postgresql_where=sa.text("status IN ('new', 'contacted', 'qualified', 'quoted')"), sqlite_where=sa.text("status IN ('new', 'contacted', 'qualified', 'quoted')"))

    op.create_table('flow_visits',
    sa.Column('visitor_key', sa.String(length=64), nullable=False),
    sa.Column('station_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('quoted_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('event_date', sa.Date(), nullable=True),
    sa.Column('guests', sa.Integer(), nullable=True),
    sa.Column('zip_code', sa.String(length=10), nullable=True),
    sa.Column('details_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('booked_at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lead_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_flow_visits_lead_id_leads'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_flow_visits_station_id_stations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('visitor_key', name=op.f('pk_flow_visits'))
    )
    with op.batch_alter_table('flow_visits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flow_visits_details_at'), ['details_at'], unique=False)
        batch_op.create_index('ix_flow_visits_station_quoted', ['station_id', 'quoted_at'], unique=False)

    op.create_table('lead_activities',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('lead_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('actor_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('at', myhibachi.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], name=op.f('fk_lead_activities_actor_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_lead_activities_lead_id_leads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_activities'))
    )
    with op.batch_alter_table('lead_activities', schema=None) as batch_op:
        batch_op.create_index('ix_lead_activities_lead_at', ['lead_id', 'at'], unique=False)


def downgrade() -> None:
    for table in ('lead_activities', 'flow_visits', 'leads', 'contact_handles', 'lead_models'):
        op.drop_table(table)
    with op.batch_alter_table('bookings', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('contact_email')
    op.execute('DELETE FROM contacts WHERE email IS NULL')  # people met only through leads: no customers
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        op.execute('PRAGMA defer_foreign_keys = ON')
    else:
        op.execute('ALTER TABLE contacts RENAME CONSTRAINT pk_contacts TO pk_customers')
        op.execute('ALTER TABLE bookings RENAME CONSTRAINT fk_bookings_customer_id_contacts '
                   'TO fk_bookings_customer_id_customers')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_phone'))
        batch_op.drop_index(batch_op.f('ix_contacts_email'))
        batch_op.alter_column('email', existing_type=sa.String(254), nullable=False)
        batch_op.alter_column('phone', existing_type=sa.String(20), nullable=False)
        batch_op.create_unique_constraint('uq_customers_email', ['email'])
    op.rename_table('contacts', 'customers')
