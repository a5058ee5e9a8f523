"""documents

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 05:47:47.656557
"""

from collections.abc import Sequence

import sqlalchemy as sa
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rag_index',
    sa.Column('dealership_id', sa.UUID(), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=False),
    sa.Column('dimension', sa.Integer(), nullable=False),
    sa.Column('generation', sa.BigInteger(), server_default='1', nullable=False),
    sa.Column('hnsw_index', sa.String(length=63), nullable=True),
    sa.Column('last_served_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['dealership_id'], ['dealership.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dealership_id')
    )
    op.create_table('rag_document',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('dealership_id', sa.UUID(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('pages', sa.Integer(), nullable=True),
    sa.Column('pages_done', sa.Integer(), server_default='0', nullable=False),
    sa.Column('chunks', sa.Integer(), server_default='0', nullable=False),
    sa.Column('chunks_done', sa.Integer(), server_default='0', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('lease_token', sa.UUID(), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('run_after', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('uploaded_by', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['dealership_id'], ['dealership.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by'], ['app_user.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dealership_id', 'sha256', name='uq_rag_document_content')
    )
    op.create_index('ix_rag_document_dealership_created', 'rag_document', ['dealership_id', 'created_at'], unique=False)
    op.create_index('ix_rag_document_pending', 'rag_document', ['status', 'queued_at'], unique=False, postgresql_where="status IN ('queued', 'processing')")
    op.create_table('rag_chunk',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('dealership_id', sa.UUID(), nullable=False),
    sa.Column('document_id', sa.UUID(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('page', sa.Integer(), nullable=True),
    sa.Column('page_end', sa.Integer(), nullable=True),
    sa.Column('heading', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('text_hash', sa.String(length=32), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=False),
    sa.Column('embedding', Vector(), nullable=True),
    sa.Column('tsv', postgresql.TSVECTOR(), sa.Computed("to_tsvector('english', text)", persisted=True), nullable=False),
    sa.ForeignKeyConstraint(['dealership_id'], ['dealership.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['document_id'], ['rag_document.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_rag_chunk_dealership_model', 'rag_chunk', ['dealership_id', 'model'], unique=False)
    op.create_index('ix_rag_chunk_document', 'rag_chunk', ['document_id'], unique=False)
    op.create_index('ix_rag_chunk_tsv', 'rag_chunk', ['tsv'], unique=False, postgresql_using='gin')
    op.create_table('rag_document_file',
    sa.Column('document_id', sa.UUID(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['rag_document.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('document_id')
    )
    # Uploads are mostly compressed already (PDF streams, DOCX zips): skip TOAST compression.
    op.execute("ALTER TABLE rag_document_file ALTER COLUMN data SET STORAGE EXTERNAL")
    # No table-wide HNSW index on purpose: with a dealership filter it would post-filter and
    # return fewer than k rows. Large dealerships get their own partial HNSW index at run time
    # (server.rag.stores.pgvector); small ones are scanned exactly through the B-tree above.


def downgrade() -> None:
    op.drop_table('rag_document_file')
    op.drop_index('ix_rag_chunk_tsv', table_name='rag_chunk', postgresql_using='gin')
    op.drop_index('ix_rag_chunk_document', table_name='rag_chunk')
    op.drop_index('ix_rag_chunk_dealership_model', table_name='rag_chunk')
    op.drop_table('rag_chunk')
    op.drop_index('ix_rag_document_pending', table_name='rag_document', postgresql_where="status IN ('queued', 'processing')")
    op.drop_index('ix_rag_document_dealership_created', table_name='rag_document')
    op.drop_table('rag_document')
    op.drop_table('rag_index')
