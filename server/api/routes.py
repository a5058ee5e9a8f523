"""Every URL the server answers, in one list. New feature areas add their ENDPOINTS here."""

from __future__ import annotations

from starlette.routing import BaseRoute

from server.api import (
    accounts,
    assignments,
    auth,
    builder,
    certifications,
    chat,
    dealerships,
    health,
    insights,
    outbox,
    personas,
    programs,
    rag,
    recordings,
    reports,
    reviews,
    rubrics,
    scenarios,
    sessions,
    teams,
    usage,
    users,
    webhooks,
)
from server.api.endpoint import Endpoint, routes
from server.api.openapi import openapi_endpoint
from server.voice import endpoint as voice

VERSION = "0.1.0"

ENDPOINTS: list[Endpoint] = [
    *health.ENDPOINTS,
    *auth.ENDPOINTS,
    *accounts.ENDPOINTS,
    *dealerships.ENDPOINTS,
    *users.ENDPOINTS,
    *rag.ENDPOINTS,
    *personas.ENDPOINTS,
    *rubrics.ENDPOINTS,
    *scenarios.ENDPOINTS,
    *chat.ENDPOINTS,
    *sessions.ENDPOINTS,
    *recordings.ENDPOINTS,
    *reports.ENDPOINTS,
    *usage.ENDPOINTS,
    *builder.ENDPOINTS,
    *teams.ENDPOINTS,
    *programs.ENDPOINTS,
    *assignments.ENDPOINTS,
    *certifications.ENDPOINTS,
    *outbox.ENDPOINTS,
    *insights.ENDPOINTS,
    *reviews.ENDPOINTS,
    *webhooks.ENDPOINTS,
]


def build_routes() -> list[BaseRoute]:
    endpoints = [*ENDPOINTS]
    endpoints.append(openapi_endpoint(endpoints, VERSION))
    return [*routes(endpoints), *voice.routes()]
