"""dashboard roles, server-side sessions, sign-in attempts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 16:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


import innspill.models.types

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def _recreate() -> str:
    # On SQLite the table is rebuilt so that it gets AUTOINCREMENT (ids never reused); the
    # copy keeps every row and its id. PostgreSQL only needs the column added.
    return 'always' if op.get_bind().dialect.name == 'sqlite' else 'auto'


def upgrade() -> None:
    # Everyone who could sign in before roles existed was an administrator.
    with op.batch_alter_table(
        'app_user', recreate=_recreate(), table_kwargs={'sqlite_autoincrement': True}
    ) as batch_op:
        batch_op.add_column(
            sa.Column('role', sa.String(length=10), nullable=False, server_default='admin')
        )

    op.create_table('dashboard_session',
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', innspill.models.types.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', innspill.models.types.UTCDateTime(), nullable=False),
    sa.Column('expires_at', innspill.models.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash')
    )
    with op.batch_alter_table('dashboard_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dashboard_session_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_dashboard_session_user_id'), ['user_id'], unique=False)

    op.create_table('signin_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('at', innspill.models.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('signin_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signin_attempt_at'), ['at'], unique=False)
        batch_op.create_index('ix_signin_attempt_key', ['username', 'address', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('signin_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_signin_attempt_key')
        batch_op.drop_index(batch_op.f('ix_signin_attempt_at'))
    op.drop_table('signin_attempt')

    with op.batch_alter_table('dashboard_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dashboard_session_user_id'))
        batch_op.drop_index(batch_op.f('ix_dashboard_session_expires_at'))
    op.drop_table('dashboard_session')

    with op.batch_alter_table(
        'app_user', recreate=_recreate(), table_kwargs={'sqlite_autoincrement': False}
    ) as batch_op:
        batch_op.drop_column('role')
