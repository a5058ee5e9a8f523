"""voice recordings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 06:30:09.595685
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('voice_recording',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('dealership_id', sa.UUID(), nullable=False),
    sa.Column('session_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('message_id', sa.UUID(), nullable=True),
    sa.Column('side', sa.Enum('user', 'assistant', name='recording_side', native_enum=False, length=16), nullable=False),
    sa.Column('sample_rate', sa.Integer(), nullable=False),
    sa.Column('offset_ms', sa.Integer(), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('pcm', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['dealership_id'], ['dealership.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['conversation_session.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_voice_recording_session_offset', 'voice_recording', ['session_id', 'offset_ms'], unique=False)
    # PCM barely compresses: store it out of line without spending CPU on trying.
    op.execute('ALTER TABLE voice_recording ALTER COLUMN pcm SET STORAGE EXTERNAL')


def downgrade() -> None:
    op.drop_index('ix_voice_recording_session_offset', table_name='voice_recording')
    op.drop_table('voice_recording')
