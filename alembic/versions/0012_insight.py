"""insight and review: the per-session insight summary (backfilled), the review queue

Revision ID: 0012_insight
Revises: 0008_builder, 0011_assign
Create Date: 2026-12-05 10:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = '0012_insight'
# A merge point of the two heads this branch has (the builder's and practice's); the lead
# re-chains it after the other issue 19 migrations.
down_revision: str | None = '0011_assign'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OBJECTIONS = ('price', 'trade_in', 'monthly_payment', 'think_about_it', 'spouse', 'competitor', 'fi_products')

# Summary rows for sessions ended before this migration (v1 scorecards' 1-5 mean on the 0-100 scale).
BACKFILL = sa.text("""
        INSERT INTO session_insight (session_id, dealership_id, user_id, practice_key, practice_label, objections,
                                     started_at, duration_s, overall, passed)
        SELECT s.id, s.dealership_id, s.user_id,
               left(COALESCE(s.scenario_id, 'persona:' || s.persona_id), 80),
               left(COALESCE(s.scenario->'spec'->>'title', s.persona->>'name', s.persona_id), 200),
               ARRAY(SELECT DISTINCT o FROM jsonb_array_elements_text(
                         COALESCE(s.scenario->'spec'->'objections', s.persona->'objections', '[]'::jsonb)) o
                     WHERE o = ANY(:objections)),
               s.started_at, GREATEST(0, round(extract(epoch FROM s.last_activity_at - s.started_at)))::int,
               CASE WHEN s.scorecard->>'version' = '2' THEN (s.scorecard->>'overall')::float
                    ELSE round(((s.scorecard->>'overall')::float - 1) / 4 * 100) END,
               (s.scorecard->>'passed')::boolean
        FROM conversation_session s
        WHERE s.status = 'ended' AND s.scorecard IS NOT NULL
    """).bindparams(sa.bindparam('objections', value=list(OBJECTIONS), type_=postgresql.ARRAY(sa.String())))


def upgrade() -> None:
    op.create_table('session_insight',
    sa.Column('session_id', sa.UUID(), nullable=False),
    sa.Column('dealership_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('practice_key', sa.String(length=80), nullable=False),
    sa.Column('practice_label', sa.String(length=200), nullable=False),
    sa.Column('objections', postgresql.ARRAY(sa.String(length=32)), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_s', sa.Integer(), nullable=False),
    sa.Column('overall', sa.Float(), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['conversation_session.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dealership_id'], ['dealership.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id'),
    )
    op.create_index('ix_session_insight_dealership_started', 'session_insight', ['dealership_id', 'started_at'])
    op.create_table('review_item',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('dealership_id', sa.UUID(), nullable=False),
    sa.Column('session_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('reason', sa.Enum('flagged', 'low_confidence', 'dispute', name='review_reason',
                                native_enum=False, length=32), nullable=False),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"),
              nullable=False),
    sa.Column('status', sa.Enum('open', 'resolved', name='review_status', native_enum=False, length=32),
              nullable=False),
    sa.Column('outcome', sa.Enum('confirmed', 'overridden', name='review_outcome', native_enum=False, length=32),
              nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('original_overall', sa.Float(), nullable=True),
    sa.Column('new_overall', sa.Float(), nullable=True),
    sa.Column('resolved_by', sa.UUID(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('opened_by', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['dealership_id'], ['dealership.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['conversation_session.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resolved_by'], ['app_user.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_review_item_dealership_status', 'review_item', ['dealership_id', 'status', 'created_at'])
    op.create_index('ix_review_item_session_id', 'review_item', ['session_id'])
    op.create_index('uq_review_item_open', 'review_item', ['session_id', 'reason'], unique=True,
                    postgresql_where=sa.text("status = 'open'"))
    # The queue's flag sync reads a dealership's flagged sessions: few among many.
    op.create_index('ix_conversation_session_flagged', 'conversation_session', ['dealership_id'],
                    postgresql_where=sa.text('flagged'))
    # Sessions ended before this migration get their summary row.
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_index('ix_conversation_session_flagged', table_name='conversation_session')
    op.drop_table('review_item')
    op.drop_table('session_insight')
