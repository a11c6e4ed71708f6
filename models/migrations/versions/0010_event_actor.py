"""event.actor: who did it (a dashboard user or the CLI's operator)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 18:55:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0010'
# Re-chained after 0009 when the branches merged.
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('event') as batch:
        batch.add_column(
            sa.Column(
                'actor',
                sqlmodel.sql.sqltypes.AutoString(length=120),
                nullable=False,
                server_default='',
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('event') as batch:
        batch.drop_column('actor')
