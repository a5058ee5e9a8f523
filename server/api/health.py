"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from starlette.responses import Response

from server.api.endpoint import Ctx, endpoint
from server.api.schemas import Output
from server.db.migrate import current_revision, head_revision
from server.errors import ServiceUnavailable
from server.prometheus import exposition

TAG = "health"


class HealthOut(Output):
    status: str


class ReadyOut(Output):
    status: str
    database: str
    migration: str | None
    providers: dict[str, str]


@endpoint("GET", "/api/health", summary="The process is up", tag=TAG, response=HealthOut, auth=False)
async def health(ctx: Ctx) -> HealthOut:
    return HealthOut(status="ok")


@endpoint("GET", "/api/ready", tag=TAG,
          summary="The database is reachable, migrations are at head, and the instance is not draining",
          response=ReadyOut, auth=False, errors=(503,))
async def ready(ctx: Ctx) -> ReadyOut:
    if ctx.state.drain is not None and ctx.state.drain.draining:
        # Stopping (SIGTERM): the balancer must send new work elsewhere; what is here finishes.
        raise ServiceUnavailable("This instance is shutting down.", details={"draining": True, "retryable": True})
    try:
        await ctx.db.execute(text("SELECT 1"))
        current = await current_revision(ctx.state.engine)
    except Exception as exc:
        raise ServiceUnavailable("The database is not reachable.", details={"retryable": True}) from exc
    head = head_revision(ctx.state.database_url)
    if current != head:
        raise ServiceUnavailable("Database migrations are not at head.",
                                 details={"current": current, "head": head, "retryable": True})
    return ReadyOut(status="ready", database="ok", migration=current,
                    providers=ctx.state.settings.provider_status())


@endpoint("GET", "/metrics", summary="Prometheus metrics (every worker's with `--workers` > 1)", tag=TAG, auth=False)
async def metrics(ctx: Ctx) -> Response:
    return Response(exposition(ctx.state.registry), media_type=CONTENT_TYPE_LATEST)


ENDPOINTS = [health, ready, metrics]
