"""senders at work (to take a dead one's claims at once) and the relay's shared pace

Revision ID: 0018
Revises: 0014
Create Date: 2026-12-07 15:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import innspill.models.types

revision = '0018'
down_revision = '0014'  # written on 0011; re-chained after 0014 when the helpers' branches were merged
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('senderprocess',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('host', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('started', sa.BigInteger(), nullable=True),
    sa.Column('since', innspill.models.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('relaypace',
    sa.Column('relay', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('next_at', innspill.models.types.UTCDateTime(), nullable=True),
    sa.Column('rate', sa.Float(), nullable=True),
    sa.Column('lowered_at', innspill.models.types.UTCDateTime(), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.PrimaryKeyConstraint('relay')
    )
    op.create_table('relayusage',
    sa.Column('relay', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('hour', innspill.models.types.UTCDateTime(), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('relay', 'hour')
    )


def downgrade() -> None:
    op.drop_table('relayusage')
    op.drop_table('relaypace')
    op.drop_table('senderprocess')
