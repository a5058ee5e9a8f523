"""practice management: teams, programmes, assignments and their progress, certifications;
the assignment a session was started from

Revision ID: 0011_assign
Revises: 0010_mail
Create Date: 2026-12-05 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = '0011_assign'
# Issue 19's branches each chain after 0006_training; here after 0010_mail (merged in for the
# outbox) so the branch has one head. The lead re-chains at merge.
down_revision: str | None = '0010_mail'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = postgresql.JSONB(astext_type=sa.Text())


def _dealership() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column('dealership_id', sa.UUID(), sa.ForeignKey('dealership.id', ondelete='CASCADE'), nullable=False)


def upgrade() -> None:
    op.create_table('team',
    sa.Column('id', sa.UUID(), primary_key=True),
    _dealership(),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    )
    op.create_index('ix_team_dealership', 'team', ['dealership_id'])
    op.create_table('team_member',
    sa.Column('team_id', sa.UUID(), sa.ForeignKey('team.id', ondelete='CASCADE'), primary_key=True),
    sa.Column('user_id', sa.UUID(), sa.ForeignKey('app_user.id', ondelete='CASCADE'), primary_key=True),
    _dealership(),
    )
    op.create_index('ix_team_member_user_id', 'team_member', ['user_id'])
    op.create_table('program',
    sa.Column('id', sa.UUID(), primary_key=True),
    _dealership(),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('scenario_ids', JSON, nullable=False),
    sa.Column('levels', JSON, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_program_dealership', 'program', ['dealership_id'])
    op.create_table('assignment',
    sa.Column('id', sa.UUID(), primary_key=True),
    _dealership(),
    sa.Column('scenario_id', sa.String(length=64), nullable=True),
    sa.Column('program_id', sa.UUID(), sa.ForeignKey('program.id', ondelete='SET NULL'), nullable=True),
    sa.Column('scenario_ids', JSON, nullable=False),
    sa.Column('team_id', sa.UUID(), sa.ForeignKey('team.id', ondelete='SET NULL'), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('min_attempts', sa.Integer(), nullable=False),
    sa.Column('pass_score', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.UUID(), sa.ForeignKey('app_user.id', ondelete='SET NULL'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_assignment_dealership_due', 'assignment', ['dealership_id', 'due_at'])
    op.create_table('assignment_progress',
    sa.Column('assignment_id', sa.UUID(), sa.ForeignKey('assignment.id', ondelete='CASCADE'), primary_key=True),
    sa.Column('user_id', sa.UUID(), sa.ForeignKey('app_user.id', ondelete='CASCADE'), primary_key=True),
    _dealership(),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('scenarios', JSON, nullable=False),
    sa.Column('passed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_assignment_progress_user', 'assignment_progress', ['user_id'])
    op.create_table('certification',
    sa.Column('id', sa.UUID(), primary_key=True),
    _dealership(),
    sa.Column('user_id', sa.UUID(), sa.ForeignKey('app_user.id', ondelete='CASCADE'), nullable=False),
    sa.Column('program_id', sa.UUID(), sa.ForeignKey('program.id', ondelete='CASCADE'), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('signed_off_by', sa.UUID(), sa.ForeignKey('app_user.id', ondelete='SET NULL'), nullable=True),
    sa.Column('certified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.UniqueConstraint('user_id', 'program_id', name='uq_certification_user_program'),
    )
    op.create_index('ix_certification_dealership_program', 'certification', ['dealership_id', 'program_id'])
    op.add_column('conversation_session', sa.Column(
        'assignment_id', sa.UUID(), sa.ForeignKey('assignment.id', ondelete='SET NULL'), nullable=True))


def downgrade() -> None:
    op.drop_column('conversation_session', 'assignment_id')
    for table in ('certification', 'assignment_progress', 'assignment', 'program', 'team_member', 'team'):
        op.drop_table(table)
