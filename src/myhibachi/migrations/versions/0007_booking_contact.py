"""bookings: the contact name and phone each booking was made with (a public form never rewrites the customer)

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (('contact_name', 120), ('contact_phone', 20))


def upgrade() -> None:
    # Plain ADD COLUMN (a server default lets it be NOT NULL at once): no batch rebuild of the bookings table on
    # SQLite, which would drop migration 0004's capacity triggers. Existing bookings take their customer's details.
    for name, length in COLUMNS:
        op.add_column('bookings', sa.Column(name, sa.String(length), nullable=False, server_default=''))
        field = name.removeprefix('contact_')
        op.execute(f"UPDATE bookings SET {name} = (SELECT customers.{field} FROM customers "
                   "WHERE customers.id = bookings.customer_id)")


def downgrade() -> None:
    with op.batch_alter_table('bookings', schema=None, recreate='never') as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
