"""the journal: entries with their numbers, and the counters they are taken from

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import innspill.models.types

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('journal_counter',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('next_value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('journal_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('organisation_number', sqlmodel.sql.sqltypes.AutoString(length=9), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('case_reference', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('document_number', sa.Integer(), nullable=False),
    sa.Column('entry_type', sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('source_key', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('step_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('participant_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('public_title', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('correspondent_role', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('correspondent_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('correspondent_address', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('document_date', sa.Date(), nullable=False),
    sa.Column('journal_date', sa.Date(), nullable=False),
    sa.Column('due', sa.Date(), nullable=True),
    sa.Column('registered_at', innspill.models.types.UTCDateTime(), nullable=False),
    sa.Column('registered_by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.ForeignKeyConstraint(['process_id'], ['process.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organisation_number', 'case_reference', 'document_number'),
    sa.UniqueConstraint('organisation_number', 'year', 'sequence'),
    sa.UniqueConstraint('source', 'source_key')
    )
    with op.batch_alter_table('journal_entry', schema=None) as batch_op:
        batch_op.create_index('ix_journal_entry_date', ['journal_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_entry_process_id'), ['process_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('journal_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_entry_process_id'))
        batch_op.drop_index('ix_journal_entry_date')
    op.drop_table('journal_entry')
    op.drop_table('journal_counter')
