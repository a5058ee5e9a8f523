"""A fake Pinecone data plane (one serverless index) speaking the real HTTP wire format:
/vectors/upsert, /query, /vectors/delete, /namespaces/{ns}, /describe_index_stats.

It enforces Pinecone's request limits (1,000 vectors and 2 MB per upsert, 1,000 ids per
delete), checks the Api-Key header, and answers cosine-similarity queries per namespace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MAX_UPSERT_VECTORS = 1000
MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_DELETE_IDS = 1000


@dataclass
class FakePinecone:
    api_key: str = "pc-test-key"
    # namespace -> id -> (values, metadata)
    namespaces: dict[str, dict[str, tuple[list[float], dict[str, Any]]]] = field(default_factory=dict)
    upsert_sizes: list[int] = field(default_factory=list)
    queried_namespaces: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/vectors/upsert", self.upsert, methods=["POST"]),
            Route("/query", self.query, methods=["POST"]),
            Route("/vectors/delete", self.delete, methods=["POST"]),
            Route("/namespaces/{name:path}", self.delete_namespace, methods=["DELETE"]),
            Route("/describe_index_stats", self.stats, methods=["GET", "POST"]),
        ])

    def _auth(self, request: Request) -> JSONResponse | None:
        if request.headers.get("api-key") != self.api_key:
            return _error(401, "UNAUTHENTICATED", "Invalid API Key")
        return None

    async def upsert(self, request: Request) -> JSONResponse:
        if (denied := self._auth(request)) is not None:
            return denied
        raw = await request.body()
        if len(raw) > MAX_REQUEST_BYTES:
            return _error(413, "OUT_OF_RANGE", f"Request size {len(raw)} exceeds the limit of {MAX_REQUEST_BYTES}")
        body = await request.json()
        vectors = body.get("vectors", [])
        if len(vectors) > MAX_UPSERT_VECTORS:
            return _error(400, "INVALID_ARGUMENT", f"Batch size exceeds {MAX_UPSERT_VECTORS}")
        space = self.namespaces.setdefault(body.get("namespace", ""), {})
        for vector in vectors:
            space[vector["id"]] = (list(vector["values"]), dict(vector.get("metadata") or {}))
        self.upsert_sizes.append(len(vectors))
        return JSONResponse({"upsertedCount": len(vectors)})

    async def query(self, request: Request) -> JSONResponse:
        if (denied := self._auth(request)) is not None:
            return denied
        body = await request.json()
        name = body.get("namespace", "")
        self.queried_namespaces.append(name)
        query = body["vector"]
        matches = []
        for id_, (values, metadata) in self.namespaces.get(name, {}).items():
            if _matches(metadata, body.get("filter")):
                match: dict[str, Any] = {"id": id_, "score": _cosine(query, values), "values": []}
                if body.get("includeMetadata"):
                    match["metadata"] = metadata
                matches.append(match)
        matches.sort(key=lambda m: -m["score"])
        return JSONResponse({"matches": matches[: body["topK"]], "namespace": name, "usage": {"readUnits": 1}})

    async def delete(self, request: Request) -> JSONResponse:
        if (denied := self._auth(request)) is not None:
            return denied
        body = await request.json()
        space = self.namespaces.get(body.get("namespace", ""), {})
        if body.get("deleteAll"):
            space.clear()
        ids = body.get("ids") or []
        if len(ids) > MAX_DELETE_IDS:
            return _error(400, "INVALID_ARGUMENT", f"Too many ids: at most {MAX_DELETE_IDS}")
        for id_ in ids:
            space.pop(id_, None)
        return JSONResponse({})

    async def delete_namespace(self, request: Request) -> JSONResponse:
        if (denied := self._auth(request)) is not None:
            return denied
        if self.namespaces.pop(request.path_params["name"], None) is None:
            return _error(404, "NOT_FOUND", "Namespace not found")
        return JSONResponse({}, status_code=202)

    async def stats(self, request: Request) -> JSONResponse:
        if (denied := self._auth(request)) is not None:
            return denied
        counts = {name: {"vectorCount": len(space)} for name, space in self.namespaces.items()}
        return JSONResponse({"namespaces": counts, "dimension": 384, "indexFullness": 0.0,
                             "totalVectorCount": sum(c["vectorCount"] for c in counts.values())})


def _matches(metadata: dict[str, Any], condition: dict[str, Any] | None) -> bool:
    for key, expected in (condition or {}).items():
        if isinstance(expected, dict):
            if "$eq" in expected and metadata.get(key) != expected["$eq"]:
                return False
            if "$in" in expected and metadata.get(key) not in expected["$in"]:
                return False
        elif metadata.get(key) != expected:
            return False
    return True


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}, "status": status}, status_code=status)
