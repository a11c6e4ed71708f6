"""answer.registered_at (when it became an answer) and answer.raw_json (the text as typed)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import innspill.models.types

revision = '0014'
down_revision = '0013'  # written on 0011; re-chained after 0013 when the helpers' branches were merged
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('answer', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('registered_at', innspill.models.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                'raw_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=''
            )
        )
    # Every answer so far became one when it was stored: as it was received.
    op.execute('UPDATE answer SET registered_at = received_at')


def downgrade() -> None:
    with op.batch_alter_table('answer', schema=None) as batch_op:
        batch_op.drop_column('raw_json')
        batch_op.drop_column('registered_at')
