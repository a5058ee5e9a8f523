"""A small declarative layer over Starlette routes.

An `Endpoint` names its method, path, roles, request and response models. From that one
declaration it authenticates, checks the role, parses and validates JSON/query input into
pydantic models (422 with per-field details), runs the handler inside one database
transaction (committed only on success, so a failure never leaves a half-written record),
serialises the response, and describes itself in the OpenAPI document. With `resource=Model`
a role that may not use the endpoint still gets 404 for a resource outside its scope.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import orjson
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import jsonbody, outage
from server.db.models import Role
from server.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    SparringError,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
    error_response,
)
from server.state import AppState, app_state
from server.tenancy import Principal, Scope

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"


class Ctx:
    """What a handler gets: the request, the caller, one database session and the tenant scope."""

    def __init__(self, request: Request, state: AppState, principal: Principal | None) -> None:
        self.request = request
        self.state = state
        self._principal = principal
        self._session: AsyncSession | None = None
        self._after_commit: list[Callable[[], None]] = []

    @property
    def principal(self) -> Principal:
        if self._principal is None:
            raise Unauthorized()
        return self._principal

    @property
    def db(self) -> AsyncSession:
        if self._session is None:
            self._session = self.state.sessionmaker()
        return self._session

    @property
    def scope(self) -> Scope:
        return Scope(self.principal, self.db)

    @property
    def client_ip(self) -> str:
        return self.request.client.host if self.request.client else "unknown"

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this request's changes are committed (not at all if they are not):
        dropping a cached copy before then would let a concurrent read cache the old state again."""
        self._after_commit.append(callback)

    async def finish(self, ok: bool) -> None:
        if self._session is not None:
            try:
                if ok:
                    await self._session.commit()
                else:
                    await self._session.rollback()
            finally:
                await self._session.close()
        if ok:
            for callback in self._after_commit:
                callback()


Handler = Callable[..., Awaitable[Any]]


@dataclass
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    # A multipart/form-data body, described for the schema and required (415 otherwise); the
    # handler reads the form itself (files are streamed, not validated as a model).
    form: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    auth: bool = True
    roles: frozenset[Role] | None = None
    errors: tuple[int, ...] = ()
    # Other success statuses the handler may answer (as a Response) with the same `response` body,
    # and what each means, for OpenAPI (e.g. 207: some files of an upload refused).
    other_statuses: dict[int, str] = field(default_factory=dict)
    # The model the last path parameter identifies (see `_deny`).
    resource: type[Any] | None = None
    extra_openapi: dict[str, Any] = field(default_factory=dict)

    @property
    def full_path(self) -> str:
        return self.path if self.path.startswith("/api/") or self.path == "/metrics" else API_PREFIX + self.path

    @property
    def template(self) -> str:
        """The path with Starlette converters removed: '/users/{id:uuid}' -> '/users/{id}'."""
        return re.sub(r"\{(\w+):\w+\}", r"{\1}", self.full_path)

    async def __call__(self, request: Request) -> Response:
        state = app_state(request)
        ctx: Ctx | None = None
        try:
            principal = await self._authenticate(request, state) if self.auth else None
            ctx = Ctx(request, state, principal)
            if self.roles is not None and principal is not None and principal.role not in self.roles:
                await self._deny(ctx)
            kwargs: dict[str, Any] = dict(request.path_params)
            if self.query is not None:
                kwargs["query"] = _validate(self.query, dict(request.query_params), location="query")
            if self.body is not None:
                kwargs["body"] = _validate(self.body, await _json_body(request), location="body")
            if self.form is not None:
                _require_multipart(request)
            result = await self.handler(ctx, **kwargs)
            await ctx.finish(ok=True)
        except SparringError as error:
            await _abandon(ctx)
            return error_response(error)
        except IntegrityError:
            # A unique or foreign key constraint lost a race that the handler's own check passed.
            await _abandon(ctx)
            return error_response(Conflict("This conflicts with an existing record; reload and retry."))
        except Exception as exc:
            await _abandon(ctx)
            return fault_response(exc, self.template)
        return _render(result, self.status)

    async def _deny(self, ctx: Ctx) -> NoReturn:
        # A resource the caller cannot see answers 404 even where the role may not act on it at
        # all, so a 403 never confirms that another dealership's resource exists.
        if self.resource is not None and ctx.request.path_params:
            await ctx.scope.get(self.resource, list(ctx.request.path_params.values())[-1])
        raise Forbidden()

    @staticmethod
    async def _authenticate(request: Request, state: AppState) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Send an access token as 'Authorization: Bearer <token>'.")
        return await state.authenticator.authenticate(token.strip())


async def _abandon(ctx: Ctx | None) -> None:
    """Roll back after a failed request; a rollback that fails too (the database went away)
    must not replace the answer the request already has."""
    if ctx is None:
        return
    try:
        await ctx.finish(ok=False)
    except Exception as exc:
        log.warning("rollback failed", extra={"error": outage.describe(exc)})


def fault_response(exc: Exception, route: str) -> Response:
    """The answer to an exception nothing expected: 503 when a dependency is lost (an outage:
    one log line), else 500 with a generic body (the traceback goes to the log, with the
    request id)."""
    outage.log_failure(log, "request failed", exc, route=route)
    return error_response(outage.unavailable() if outage.lost_dependency(exc) else SparringError())


def routes(endpoints: Iterable[Endpoint]) -> list[Route]:
    """One route per path, dispatching on the method: a 405 then lists every method the path
    has in `Allow` (a route per endpoint answered with the first one's method only)."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for ep in endpoints:
        by_path.setdefault(ep.full_path, {})[ep.method] = ep
    return [_route(path, methods) for path, methods in by_path.items()]


def _route(path: str, by_method: dict[str, Endpoint]) -> Route:
    # HEAD is answered by GET's endpoint, as Starlette does for a GET route.
    dispatch = {**({"HEAD": by_method["GET"]} if "GET" in by_method else {}), **by_method}

    async def endpoint(request: Request) -> Response:
        return await dispatch[request.method](request)

    first = next(iter(by_method.values()))
    endpoint.route_template = first.template  # type: ignore[attr-defined]
    endpoint.__name__ = "_".join(ep.handler.__name__ for ep in by_method.values())
    return Route(path, endpoint, methods=list(by_method))


def _render(result: Any, status: int) -> Response:
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(status_code=204)
    if isinstance(result, BaseModel):
        return Response(result.model_dump_json(), status_code=status, media_type="application/json")
    return Response(orjson.dumps(result), status_code=status, media_type="application/json")


async def _json_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType("Send the request body as application/json.")
    raw = await request.body()
    if not raw.strip():
        raise ValidationFailed("A JSON request body is required.",
                               details=[{"field": "body", "message": "required"}])
    try:
        return jsonbody.loads(raw)
    except jsonbody.TooDeep as exc:
        raise BadRequest(f"The request body nests arrays or objects more than {exc.max_depth} levels deep.",
                         code="json_too_deep", details={"max_depth": exc.max_depth}) from None
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON ({exc.args[0]}).", code="malformed_json") from None


def _require_multipart(request: Request) -> None:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "multipart/form-data":
        raise UnsupportedMediaType("Send the request body as multipart/form-data.")


def _validate(model: type[BaseModel], data: Any, *, location: str) -> BaseModel:
    if nul := _nul_fields(data, ""):
        # PostgreSQL text cannot hold U+0000; refuse it here rather than fail at the database.
        raise ValidationFailed(details=[{"field": path or location, "location": location,
                                         "message": "must not contain the NUL character (U+0000)",
                                         "type": "nul_character"} for path in nul])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(details=field_errors(exc, location)) from None


def _nul_fields(data: Any, path: str) -> list[str]:
    if isinstance(data, str):
        return [path] if "\x00" in data else []
    if isinstance(data, dict):
        return [hit for key, value in data.items()
                for hit in _nul_fields(key, path) + _nul_fields(value, f"{path}.{key}".lstrip("."))]
    if isinstance(data, list):
        return [hit for index, value in enumerate(data) for hit in _nul_fields(value, f"{path}.{index}".lstrip("."))]
    return []


def field_errors(exc: ValidationError, location: str) -> list[dict[str, Any]]:
    details = []
    for error in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(part) for part in error["loc"]) or location
        details.append({"field": path, "location": location, "message": error["msg"], "type": error["type"]})
    return details


def endpoint(
    method: str, path: str, *, summary: str, tag: str, body: type[BaseModel] | None = None,
    form: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None, status: int = 200,
    auth: bool = True, roles: Iterable[Role] | None = None, errors: tuple[int, ...] = (),
    resource: type[Any] | None = None, other_statuses: dict[int, str] | None = None,
) -> Callable[[Handler], Endpoint]:
    def wrap(handler: Handler) -> Endpoint:
        return Endpoint(
            method=method, path=path, handler=handler, summary=summary, tag=tag, body=body, form=form, query=query,
            response=response, status=status, auth=auth,
            roles=frozenset(roles) if roles is not None else None, errors=errors, resource=resource,
            other_statuses=dict(other_statuses or {}),
        )

    return wrap
