"""/rag: training documents (upload, list, get, delete, re-index) and search, per dealership."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.responses import Response

from server.api.endpoint import Ctx, endpoint
from server.api.schemas import Input, Output, PageQuery
from server.db.models import Role
from server.errors import (
    BadRequest,
    ServiceUnavailable,
    SparringError,
    UnsupportedMediaType,
    ValidationFailed,
)
from server.rag import presence
from server.rag.documents import add_each, delete_document, reindex_document
from server.rag.models import Document
from server.rag.retrieval import search_in_session
from server.rag.services import RagServices
from server.rag.upload import Upload, check_upload, sanitize_filename

TAG = "documents"
ADMINS = [Role.super_admin, Role.dealership_admin]
MAX_FILES = 50


class UploadForm(BaseModel):
    """The upload's multipart fields, for the schema (the handler streams the files itself)."""

    file: list[bytes] = Field(min_length=1, max_length=MAX_FILES, description="one or more files (repeat the field)")
    # A form field is sent or not; it cannot be null.
    dealership_id: uuid.UUID | SkipJsonSchema[None] = Field(default=None, description="super admins only")


class QueuedDocument(Output):
    id: uuid.UUID
    filename: str
    status: str


class FileError(Output):
    code: str
    message: str
    details: Any = None


class FileResult(Output):
    filename: str
    status: Literal["queued", "refused"]
    document: QueuedDocument | None = Field(default=None, description="when queued")
    error: FileError | None = Field(default=None, description="when refused: why, as the error shape's `error`")


class UploadOut(Output):
    documents: list[QueuedDocument] = Field(description="the files queued")
    results: list[FileResult] = Field(description="one per file, in the order sent")


class DocumentOut(Output):
    id: uuid.UUID
    dealership_id: uuid.UUID
    filename: str
    kind: str
    status: str
    error: str | None
    pages: int | None
    chunks: int
    size: int
    sha256: str
    created_at: datetime
    updated_at: datetime
    status_reason: str | None = Field(default=None, description=(
        "queued only: why it is still waiting (no worker running, a retry later, its dealership's document "
        "being read first, every worker busy); null when it is next in line"))
    waiting_behind: int | None = Field(default=None, description=(
        "queued only: documents of this dealership ahead of it (processing, or queued earlier)"))


class Progress(Output):
    pages: int | None
    pages_done: int
    chunks_done: int
    attempts: int


class DocumentDetail(DocumentOut):
    progress: Progress


class DocumentList(Output):
    items: list[DocumentOut]
    total: int


class DocumentQuery(PageQuery):
    dealership_id: uuid.UUID | None = None
    status: str | None = Field(default=None, pattern="^(queued|processing|ready|failed)$")


class QueryIn(Input):
    query: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    top_k: int = Field(default=5, ge=1, le=20)
    dealership_id: uuid.UUID | None = None


class ResultOut(Output):
    document_id: uuid.UUID
    filename: str
    page: int | None
    page_end: int | None
    heading: str | None
    text: str
    score: float
    chunk_id: uuid.UUID


class QueryOut(Output):
    results: list[ResultOut]


def _rag(ctx: Ctx) -> RagServices:
    if ctx.state.rag is None:
        raise ServiceUnavailable("Documents are not available on this server.")
    return ctx.state.rag


async def _outs(ctx: Ctx, documents: list[Document]) -> list[DocumentOut]:
    """The documents as the API shows them: a queued one says how many are ahead of it and why it
    waits (`presence.explain`)."""
    outs = [DocumentOut.model_validate(d) for d in documents]
    queued = [d.id for d in outs if d.status == "queued"]
    if not queued:
        return outs
    waiting = await presence.explain(ctx.db, queued, heartbeat_seconds=ctx.state.settings.rag_worker_heartbeat_seconds)
    return [d.model_copy(update={"waiting_behind": waiting[d.id].ahead, "status_reason": waiting[d.id].reason})
            if d.id in waiting else d for d in outs]


async def _detail(ctx: Ctx, document: Document) -> DocumentDetail:
    return DocumentDetail.model_validate({
        **(await _outs(ctx, [document]))[0].model_dump(),
        "progress": Progress(pages=document.pages, pages_done=document.pages_done,
                             chunks_done=document.chunks_done, attempts=document.attempts),
    })


@endpoint("POST", "/rag/upload", summary="Upload training documents (multipart field `file`, repeatable)",
          tag=TAG, form=UploadForm, response=UploadOut, status=202, roles=ADMINS,
          errors=(400, 403, 404, 409, 413, 415, 422),
          other_statuses={207: "Several files, some refused: each file's outcome is in `results`"})
async def upload(ctx: Ctx) -> UploadOut | Response:
    """Each file succeeds or fails on its own. One file: refused with the error status as before.
    Several: 202 when all are queued, else 207 with the reason on each refused file."""
    services = _rag(ctx)
    max_bytes = ctx.state.settings.max_upload_mb * 1024 * 1024
    if not ctx.request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType("Send the files as multipart/form-data in the `file` field.")
    try:
        form = await ctx.request.form(max_files=MAX_FILES, max_fields=20)
    except (HTTPException, MultiPartException) as exc:
        detail = getattr(exc, "detail", None) or getattr(exc, "message", "")
        raise BadRequest(f"The multipart body could not be read: {detail}") from None
    try:
        files = [item for item in form.getlist("file") if isinstance(item, UploadFile)]
        if not files:
            raise ValidationFailed("Attach at least one file in the `file` field.",
                                   details=[{"field": "file", "message": "required"}])
        requested = form.get("dealership_id")
        try:
            dealership_id = uuid.UUID(requested) if isinstance(requested, str) and requested else None
        except ValueError:
            raise ValidationFailed(details=[{"field": "dealership_id", "message": "not a UUID"}]) from None
        dealership = await ctx.scope.dealership(dealership_id)
        checked: list[Upload | SparringError] = []
        for f in files:
            try:
                checked.append(await check_upload(f.file, f.filename, max_bytes=max_bytes))
            except SparringError as error:
                checked.append(error)
        uploads = [c for c in checked if isinstance(c, Upload)]
        added = iter(await add_each(ctx.db, services, dealership.id, uploads, ctx.principal.user_id) if uploads else [])
        outcomes = [next(added) if isinstance(c, Upload) else c for c in checked]
    finally:
        await form.close()
    if len(outcomes) == 1 and isinstance(outcomes[0], SparringError):
        raise outcomes[0]
    out = UploadOut(documents=[_queued(d) for d in outcomes if isinstance(d, Document)],
                    results=[_result(f.filename, outcome) for f, outcome in zip(files, outcomes, strict=True)])
    if len(out.documents) == len(outcomes):
        return out
    return Response(out.model_dump_json(), status_code=207, media_type="application/json")


def _queued(document: Document) -> QueuedDocument:
    return QueuedDocument(id=document.id, filename=document.filename, status=document.status)


def _result(raw_name: str | None, outcome: Document | SparringError) -> FileResult:
    if isinstance(outcome, Document):
        return FileResult(filename=outcome.filename, status="queued", document=_queued(outcome))
    return FileResult(filename=sanitize_filename(raw_name), status="refused",
                      error=FileError(code=outcome.code, message=outcome.message, details=outcome.details))


@endpoint("GET", "/rag/documents", summary="List documents", tag=TAG, query=DocumentQuery, response=DocumentList)
async def list_documents(ctx: Ctx, query: DocumentQuery) -> DocumentList:
    criteria = []
    if query.dealership_id is not None:
        criteria.append(Document.dealership_id == query.dealership_id)
    if query.status is not None:
        criteria.append(Document.status == query.status)
    rows, total = await ctx.scope.list(Document, *criteria, order_by=Document.created_at.desc(),
                                       limit=query.limit, offset=query.offset)
    return DocumentList(items=await _outs(ctx, rows), total=total)


@endpoint("GET", "/rag/documents/{document_id:uuid}", summary="A document, with its progress", tag=TAG,
          response=DocumentDetail, errors=(404,))
async def get_document(ctx: Ctx, document_id: uuid.UUID) -> DocumentDetail:
    return await _detail(ctx, await ctx.scope.get(Document, document_id))


@endpoint("DELETE", "/rag/documents/{document_id:uuid}", summary="Delete a document, its chunks and vectors",
          tag=TAG, status=204, roles=ADMINS, errors=(403, 404, 503))
async def remove_document(ctx: Ctx, document_id: uuid.UUID) -> None:
    document = await ctx.scope.get(Document, document_id, for_update=True)
    await delete_document(ctx.db, _rag(ctx), document)


@endpoint("POST", "/rag/documents/{document_id:uuid}/reindex", summary="Process a document again", tag=TAG,
          response=QueuedDocument, status=202, roles=ADMINS, errors=(403, 404, 409))
async def reindex(ctx: Ctx, document_id: uuid.UUID) -> QueuedDocument:
    document = await ctx.scope.get(Document, document_id, for_update=True)
    await reindex_document(ctx.db, _rag(ctx), document)
    return _queued(document)


@endpoint("POST", "/rag/query", summary="Search your dealership's documents", tag=TAG, body=QueryIn,
          response=QueryOut, errors=(404, 422, 503))
async def query(ctx: Ctx, body: QueryIn) -> QueryOut:
    dealership = await ctx.scope.dealership(body.dealership_id)
    results = await search_in_session(_rag(ctx), ctx.db, dealership.id, body.query, body.top_k)
    return QueryOut(results=[ResultOut.model_validate(r, from_attributes=True) for r in results])


ENDPOINTS = [upload, list_documents, get_document, remove_document, reindex, query]
