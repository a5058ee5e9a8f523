"""/certifications: who is ready for the floor, per programme. The board puts a dealership's
people in stages (not_started, practising, ready_for_review, certified), read from their
sessions; a manager signs a person off (certified) or moves them back with a note, every change
audited. A certified person's certificate is a PDF. Rules: `server/practice/certification.py`."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from pydantic import Field
from sqlalchemy import select
from starlette.responses import Response

from server import audit
from server.api.endpoint import Ctx, endpoint
from server.api.people import display_names
from server.api.schemas import Input, Output
from server.db.models import AuditAction, Dealership, Role, User
from server.errors import Conflict, NotFound
from server.practice import certificate, events
from server.practice.certification import Stage, Standing, check_move, standings
from server.practice.models import Certification, Program, TeamMember

TAG = "certifications"
ADMINS = [Role.super_admin, Role.dealership_admin]


class BoardQuery(Input):
    program_id: uuid.UUID
    team_id: uuid.UUID | None = Field(default=None, description="only this team's members")


class SignOffIn(Input):
    status: Stage
    note: str | None = Field(default=None, max_length=2000, description="required when moving a person back")


class MoveOut(Output):
    to: Stage
    note_required: bool


class ScenarioStandingOut(Output):
    scenario_id: str
    attempts: int
    best_score: float | None
    passed: bool
    level: str | None


class CardOut(Output):
    user_id: uuid.UUID
    program_id: uuid.UUID
    name: str
    stage: Stage
    level: str | None = Field(description="the lowest of the scenarios' levels (none until every one has one)")
    scenarios: list[ScenarioStandingOut]
    certified_at: datetime | None = None
    note: str | None = None
    moves: list[MoveOut] = Field(description="where a manager may move this person (the board's drag follows it)")


class BoardOut(Output):
    program_id: uuid.UUID
    program_name: str
    stages: list[Stage]
    items: list[CardOut]


def _card(program: Program, standing: Standing, name: str) -> CardOut:
    cert = standing.certification
    return CardOut(
        user_id=standing.user_id, program_id=program.id, name=name, stage=standing.stage, level=standing.level,
        scenarios=[ScenarioStandingOut(scenario_id=s.scenario_id, attempts=s.attempts, best_score=s.best_score,
                                       passed=s.passed, level=s.level) for s in standing.scenarios],
        certified_at=cert.certified_at if cert is not None and standing.stage is Stage.certified else None,
        note=cert.note if cert is not None else None,
        moves=[MoveOut(to=m.to, note_required=m.note_required) for m in standing.moves])


async def _person(ctx: Ctx, user_id: uuid.UUID, program: Program) -> User:
    user = await ctx.scope.get(User, user_id)
    if user.dealership_id != program.dealership_id:
        raise NotFound("User not found.")
    return user


@endpoint("GET", "/certifications", summary="The certification board of a programme (a plain user: their own card)",
          tag=TAG, query=BoardQuery, response=BoardOut, errors=(404, 422))
async def board(ctx: Ctx, query: BoardQuery) -> BoardOut:
    program = await ctx.scope.get(Program, query.program_id)
    people = ctx.scope.select(User, User.dealership_id == program.dealership_id, User.active.is_(True),
                              User.role == Role.user)
    if query.team_id is not None:
        people = people.where(User.id.in_(select(TeamMember.user_id).where(TeamMember.team_id == query.team_id)))
    user_ids = list((await ctx.db.execute(people.with_only_columns(User.id))).scalars())
    names = await display_names(ctx.db, user_ids)
    found = await standings(ctx.db, program, user_ids)
    items = sorted((_card(program, found[u], names.get(u, "")) for u in user_ids), key=lambda c: c.name.lower())
    return BoardOut(program_id=program.id, program_name=program.name, stages=list(Stage), items=items)


@endpoint("POST", "/certifications/{user_id:uuid}/{program_id:uuid}", summary="Sign a person off for a "
          "programme, or move them back (with a note)", tag=TAG, body=SignOffIn, response=CardOut, roles=ADMINS,
          resource=Program, errors=(403, 404, 409, 422))
async def sign_off(ctx: Ctx, user_id: uuid.UUID, program_id: uuid.UUID, body: SignOffIn) -> CardOut:
    program = await ctx.scope.get(Program, program_id)
    user = await _person(ctx, user_id, program)
    current = (await standings(ctx.db, program, [user.id]))[user.id]
    check_move(current.stage, body.status, body.note)
    now = datetime.now(UTC)
    row = current.certification
    if row is None:
        row = Certification(dealership_id=program.dealership_id, user_id=user.id, program_id=program.id,
                            status=body.status.value)
        ctx.db.add(row)
    row.status = body.status.value
    row.note = (body.note or "").strip() or None
    row.signed_off_by = ctx.principal.user_id
    row.changed_at = now
    row.certified_at = now if body.status is Stage.certified else None
    await ctx.db.flush()
    audit.record(ctx.db, AuditAction.certification_changed, actor_id=ctx.principal.user_id, subject_id=user.id,
                 dealership_id=program.dealership_id, ip=ctx.client_ip, program_id=str(program.id),
                 from_stage=current.stage.value, to_stage=body.status.value, note=row.note)
    if body.status is Stage.certified:
        await events.certification_granted(ctx.db, row, now)
    after = (await standings(ctx.db, program, [user.id]))[user.id]
    return _card(program, after, user.name.strip() or user.email)


@endpoint("GET", "/certifications/{user_id:uuid}/{program_id:uuid}/certificate", summary="The certificate of a "
          "certified person (PDF); admins, or the person themselves", tag=TAG, errors=(404, 409))
async def get_certificate(ctx: Ctx, user_id: uuid.UUID, program_id: uuid.UUID) -> Response:
    program = await ctx.scope.get(Program, program_id)
    if not ctx.principal.is_admin and user_id != ctx.principal.user_id:
        raise NotFound("User not found.")
    user = await _person(ctx, user_id, program)
    standing = (await standings(ctx.db, program, [user.id]))[user.id]
    cert = standing.certification
    if standing.stage is not Stage.certified or cert is None or cert.certified_at is None:
        raise Conflict("This person is not certified for this programme.", code="not_certified")
    dealership = await ctx.db.get(Dealership, program.dealership_id)
    signer = (await display_names(ctx.db, [cert.signed_off_by])).get(cert.signed_off_by) \
        if cert.signed_off_by else None
    text = certificate.CertificateText(person=user.name.strip() or user.email, program=program.name,
                                       dealership=dealership.name if dealership else "", level=standing.level,
                                       certified_at=cert.certified_at, signed_off_by=signer)
    pdf = await asyncio.to_thread(certificate.render, text)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="certificate-{program.id}-{user.id}.pdf"',
        "Cache-Control": "private, no-store"})


ENDPOINTS = [board, sign_off, get_certificate]
