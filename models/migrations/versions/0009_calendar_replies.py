"""calendar replies (iTIP REPLY) to meeting invitations

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01 19:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


import innspill.models.types

revision = '0009'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendarreply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('step_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('participant_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('partstat', sa.String(length=12), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=True),
    sa.Column('stamped_at', innspill.models.types.UTCDateTime(), nullable=False),
    sa.Column('received_at', innspill.models.types.UTCDateTime(), nullable=False),
    sa.Column('attendee', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('inbound_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['inbound_id'], ['inboundmessage.id'], ),
    sa.ForeignKeyConstraint(['process_id'], ['process.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('process_id', 'step_key', 'participant_key')
    )
    with op.batch_alter_table('calendarreply', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendarreply_process_id'), ['process_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('calendarreply', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendarreply_process_id'))
    op.drop_table('calendarreply')
