"""guided builder sessions

Revision ID: 0008_builder
Revises: 0005
Create Date: 2026-12-05 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = '0008_builder'
down_revision: str | None = '0007_avatar'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('builder_session',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('dealership_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.Enum('active', 'completed', 'expired', 'abandoned', name='builder_status',
                                native_enum=False, length=16), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('state', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('draft', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['dealership_id'], ['dealership.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_builder_session_dealership_user', 'builder_session', ['dealership_id', 'user_id'],
                    unique=False)
    op.create_index('ix_builder_session_expiry', 'builder_session', ['expires_at'], unique=False,
                    postgresql_where=sa.text("status = 'active'"))


def downgrade() -> None:
    op.drop_index('ix_builder_session_expiry', table_name='builder_session',
                  postgresql_where=sa.text("status = 'active'"))
    op.drop_index('ix_builder_session_dealership_user', table_name='builder_session')
    op.drop_table('builder_session')
