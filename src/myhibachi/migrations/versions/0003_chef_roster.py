"""chef roster: each station's chefs, their working weekdays, and their time-off

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "chefs",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("station_id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("user_id", BIG_ID, nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("max_events_per_day", sa.Integer(), nullable=True),
        sa.Column("working_weekdays", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name=op.f("fk_chefs_station_id_stations"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_chefs_user_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chefs")),
        sa.UniqueConstraint("station_id", "user_id", name=op.f("uq_chefs_station_id_user_id")),
    )
    with op.batch_alter_table("chefs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chefs_station_id"), ["station_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chefs_user_id"), ["user_id"], unique=False)

    op.create_table(
        "chef_time_off",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("chef_id", BIG_ID, nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by_user_id", BIG_ID, nullable=True),
        sa.Column("decided_by_user_id", BIG_ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["chef_id"], ["chefs.id"], name=op.f("fk_chef_time_off_chef_id_chefs"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["requested_by_user_id"], ["users.id"],
                                name=op.f("fk_chef_time_off_requested_by_user_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["decided_by_user_id"], ["users.id"],
                                name=op.f("fk_chef_time_off_decided_by_user_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chef_time_off")),
    )
    with op.batch_alter_table("chef_time_off", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chef_time_off_chef_id"), ["chef_id"], unique=False)


def downgrade() -> None:
    op.drop_table("chef_time_off")
    op.drop_table("chefs")
