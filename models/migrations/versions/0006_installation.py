"""installation: the secret key's fingerprint

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 16:05:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import innspill.models.types

revision = '0006'
# Another branch adds 0005 in parallel; the merge re-chains this one to follow it.
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('installation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', innspill.models.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('installation')
