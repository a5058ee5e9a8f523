"""A fake Mailgun messages API speaking its wire format: POST /v3/{domain}/messages with HTTP
basic auth `api:KEY` and form fields (from, to, subject, text, html, h:*, o:*, v:*); 200
`{"id": "<...>", "message": "Queued. Thank you."}`, 401 for a bad key, 400 for a missing field,
404 for an unknown domain; `fail_next` answers that many requests with a 5xx first."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


@dataclass
class FakeMailgun:
    api_key: str = "key-test-mailgun"
    domain: str = "mg.example.com"
    messages: list[dict[str, str]] = field(default_factory=list)
    fail_next: int = 0
    requests: int = 0

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v3/{domain}/messages", self.send, methods=["POST"])])

    async def send(self, request: Request) -> Response:
        self.requests += 1
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, key = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            user, key = "", ""
        if scheme.lower() != "basic" or user != "api" or key != self.api_key:
            return PlainTextResponse("Forbidden", status_code=401)
        if request.path_params["domain"] != self.domain:
            return JSONResponse({"message": "Domain not found"}, status_code=404)
        if not request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded",
                                                                     "multipart/form-data")):
            return JSONResponse({"message": "expected form data"}, status_code=400)
        form = await request.form()
        fields = {k: str(v) for k, v in form.multi_items()}
        for required in ("from", "to", "subject"):
            if not fields.get(required):
                return JSONResponse({"message": f"'{required}' parameter is missing"}, status_code=400)
        if not (fields.get("text") or fields.get("html")):
            return JSONResponse({"message": "Need at least one of 'text' or 'html' parameters specified"},
                                status_code=400)
        if self.fail_next > 0:
            self.fail_next -= 1
            return JSONResponse({"message": "Internal error"}, status_code=503)
        self.messages.append(fields)
        return JSONResponse({"id": f"<{uuid.uuid4().hex}@{self.domain}>", "message": "Queued. Thank you."})
