"""step attachments (content by hash, step links) and combined invitations

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 19:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import innspill.models.types

revision = '0011'
down_revision = '0010'  # written on 0007; re-chained after 0010 when main was merged in
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('file_content',
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', innspill.models.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('sha256')
    )
    op.create_table('step_attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('step_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('loaded_at', innspill.models.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['process_id'], ['process.id'], ),
    sa.ForeignKeyConstraint(['sha256'], ['file_content.sha256'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('process_id', 'step_key', 'position')
    )
    with op.batch_alter_table('step_attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_step_attachment_process_id'), ['process_id'], unique=False)
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('carried_by', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.drop_column('carried_by')
    with op.batch_alter_table('step_attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_step_attachment_process_id'))
    op.drop_table('step_attachment')
    op.drop_table('file_content')
