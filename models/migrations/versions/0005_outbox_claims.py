"""outbox claims: who is sending a message, and until when

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 16:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import innspill.models.types

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True)
        )
        batch_op.add_column(
            sa.Column('lease_until', innspill.models.types.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    # A message a sender holds goes back to the queue: without the columns, no claim exists.
    op.execute("UPDATE outboxmessage SET status = 'pending' WHERE status = 'sending'")
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.drop_column('lease_until')
        batch_op.drop_column('claimed_by')
