"""Document tables: uploaded files, their chunks (text, page, vector) and each dealership's index.

The document row is also the job: its status, lease and attempts are the durable queue
(`server.rag.queue`), so an upload, its file and its job are written in one transaction.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import TSVECTOR, UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models import Base, _uuid


class DocumentStatus(enum.StrEnum):
    queued = "queued"
    processing = "processing"
    ready = "ready"
    failed = "failed"


class Document(Base):
    __tablename__ = "rag_document"
    __table_args__ = (
        # One copy of the same content per dealership; other dealerships are independent.
        UniqueConstraint("dealership_id", "sha256", name="uq_rag_document_content"),
        Index("ix_rag_document_dealership_created", "dealership_id", "created_at"),
        # Workers look for queued (or abandoned) documents only; keep that scan small.
        Index("ix_rag_document_pending", "status", "queued_at",
              postgresql_where="status IN ('queued', 'processing')"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=DocumentStatus.queued.value)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    pages: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pages_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    chunks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    chunks_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_token: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    run_after: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())


class DocumentFile(Base):
    """The uploaded bytes, kept apart from the row so listings never drag them along, and in
    Postgres so any worker process (on any host) can read them."""

    __tablename__ = "rag_document_file"

    document_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("rag_document.id", ondelete="CASCADE"), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Chunk(Base):
    __tablename__ = "rag_chunk"
    __table_args__ = (
        Index("ix_rag_chunk_dealership_model", "dealership_id", "model"),
        Index("ix_rag_chunk_document", "document_id"),
        Index("ix_rag_chunk_tsv", "tsv", postgresql_using="gin"),
    )

    # Deterministic (uuid5 of document and position): a retried job writes the same ids.
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    document_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("rag_document.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    page: Mapped[int | None] = mapped_column(Integer, nullable=True)
    page_end: Mapped[int | None] = mapped_column(Integer, nullable=True)
    heading: Mapped[str | None] = mapped_column(Text, nullable=True)
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    # Dimension-free column: each dealership's index casts to its own dimension, so models
    # with different sizes can coexist in one table without ever being compared.
    embedding: Mapped[list[float] | None] = mapped_column(Vector(), nullable=True)
    tsv: Mapped[str] = mapped_column(TSVECTOR, Computed("to_tsvector('english', text)", persisted=True))


class RagIndex(Base):
    """Per dealership: which embedding model and dimension its vectors use, a generation bumped
    on every change (cache keys carry it), its own HNSW index once it is large, and when the
    queue last served it (fair scheduling)."""

    __tablename__ = "rag_index"

    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(100))
    dimension: Mapped[int] = mapped_column(Integer)
    generation: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")
    hnsw_index: Mapped[str | None] = mapped_column(String(63), nullable=True)
    last_served_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())


class RagWorker(Base):
    """A live ingestion worker (in a server or `sparring worker`): it beats every
    `RAG_WORKER_HEARTBEAT_SECONDS`, so a queued document can say why it waits when none is alive."""

    __tablename__ = "rag_worker"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    concurrency: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
