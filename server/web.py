"""Serves the built web app (web/dist) from the same origin as the API.

Hashed files under /assets/ never change, so they are cached for a year (`immutable`);
index.html is revalidated on every load so a deploy takes effect at once. Any other GET that is
not an API path is a client-side route and gets index.html (SPA fallback). The route never
matches /api/* or /metrics, so unknown API paths keep their JSON 404 and wrong methods their 405.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.datastructures import URLPath
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from server.errors import NotFound, ServiceUnavailable, error_response

REPO_DIST = Path(__file__).resolve().parents[1] / "web" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
SHORT = "public, max-age=3600"
_NOT_OURS = ("/api/", "/metrics")


class WebApp(BaseRoute):
    def __init__(self, dist: Path | None = None) -> None:
        self.dist = (dist or REPO_DIST).resolve()

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return Match.NONE, {}
        path: str = scope["path"]
        if path == "/api" or any(path == p or path.startswith(p) for p in _NOT_OURS):
            return Match.NONE, {}
        return Match.FULL, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.response(scope["path"])(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)

    def response(self, path: str) -> Response:
        index = self.dist / "index.html"
        if not index.is_file():
            return error_response(ServiceUnavailable(
                "The web app is not built: run scripts/setup (or `npm ci && npm run build` in web/).",
                code="web_not_built"))
        file = self._file(path)
        if path.startswith("/assets/"):
            # A missing hashed asset is a 404, never index.html (HTML served as a script helps no one).
            if file is None:
                return error_response(NotFound("No such asset."))
            return FileResponse(file, headers={"cache-control": IMMUTABLE})
        if file is not None and file != index:
            return FileResponse(file, headers={"cache-control": SHORT})
        return FileResponse(index, headers={"cache-control": REVALIDATE})

    def _file(self, path: str) -> Path | None:
        relative = path.lstrip("/")
        if not relative:
            return None
        candidate = (self.dist / relative).resolve()
        if not candidate.is_relative_to(self.dist) or not candidate.is_file():
            return None
        return candidate
