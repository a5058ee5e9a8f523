"""avatar minutes metered per dealership

Revision ID: 0007_avatar
Revises: 0005
Create Date: 2026-12-05 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0007_avatar'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('avatar_usage',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('dealership_id', sa.UUID(), nullable=False),
    sa.Column('session_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('provider_session_id', sa.String(length=200), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['dealership_id'], ['dealership.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_avatar_usage_dealership_started', 'avatar_usage', ['dealership_id', 'started_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_avatar_usage_dealership_started', table_name='avatar_usage')
    op.drop_table('avatar_usage')
