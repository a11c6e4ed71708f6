"""archival copies (PDF/A) of letters, answers, documents and files

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 15:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import innspill.models.types

revision = '0013'
down_revision = '0012'  # written on 0011; re-chained after 0012 when the helpers' branches were merged
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('archival_copy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_kind', sa.String(length=20), nullable=False),
    sa.Column('source_key', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('process_id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('lease_until', innspill.models.types.UTCDateTime(), nullable=True),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('format', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('format_name', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('extension', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('variant', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('data', sa.LargeBinary(), nullable=True),
    sa.Column('original_type', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('original_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('original_size', sa.Integer(), nullable=True),
    sa.Column('original_variant', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('converted_at', innspill.models.types.UTCDateTime(), nullable=True),
    sa.Column('tool', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('conversion', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_kind', 'source_key')
    )
    with op.batch_alter_table('archival_copy', schema=None) as batch_op:
        batch_op.create_index('ix_archival_copy_status', ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_archival_copy_process_id'), ['process_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('archival_copy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_archival_copy_process_id'))
        batch_op.drop_index('ix_archival_copy_status')
    op.drop_table('archival_copy')
