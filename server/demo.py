"""`sparring seed-demo`: a demo dealership with an admin, a trainee and sample training documents."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from server.accounts import create_user
from server.api.dealerships import DealershipSettings
from server.auth.passwords import hash_password
from server.db.models import Dealership, Role, User
from server.settings import Settings

DEMO_SLUG = "demo-motors"
DEMO_ACCOUNTS = [
    (Role.dealership_admin, "admin@demo-motors.example", "Dana Admin"),
    (Role.user, "trainee@demo-motors.example", "Taylor Trainee"),
]


async def seed_demo(session: AsyncSession, settings: Settings) -> list[tuple[str, str, str]]:
    """Idempotent: re-running keeps the dealership and gives the accounts fresh passwords."""
    dealership = (await session.execute(select(Dealership).where(Dealership.slug == DEMO_SLUG))).scalar_one_or_none()
    if dealership is None:
        dealership = Dealership(name="Demo Motors", slug=DEMO_SLUG, settings=DealershipSettings().model_dump())
        session.add(dealership)
        await session.flush()
    printed = []
    for role, email, name in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(9)
        user = (await session.execute(
            select(User).where(func.lower(User.email) == email, User.deleted_at.is_(None))
        )).scalar_one_or_none()
        if user is None:
            await create_user(session, email=email, password=password, name=name, role=role,
                              dealership_id=dealership.id, bcrypt_rounds=settings.bcrypt_rounds)
        else:
            user.password_hash = await hash_password(password, settings.bcrypt_rounds)
            user.active = True
            user.token_version += 1
        printed.append((role.value, email, password))
    await queue_demo_documents(session, settings, dealership.id)
    return printed


async def queue_demo_documents(session: AsyncSession, settings: Settings, dealership_id: uuid.UUID) -> int:
    """Queue the sample training documents (objection handling PDF, F&I DOCX, word-track TXT);
    ones already there (same content) are left alone. The server's workers process them."""
    from server.db.engine import create_sessionmaker
    from server.db.migrate import ROOT
    from server.errors import Conflict
    from server.rag.documents import add_documents
    from server.rag.services import build_services
    from server.rag.upload import check_upload

    folder = ROOT / "tests" / "fixtures" / "documents"
    if not folder.is_dir():
        return 0
    engine = session.bind
    assert isinstance(engine, AsyncEngine)
    services = build_services(settings, engine, create_sessionmaker(engine), None)
    queued = 0
    for path in sorted(folder.iterdir()):
        with path.open("rb") as fh:
            upload = await check_upload(fh, path.name, max_bytes=settings.max_upload_mb * 1024 * 1024)
            try:
                async with session.begin_nested():
                    await add_documents(session, services, dealership_id, [upload], None)
                queued += 1
            except Conflict:
                pass
    await services.close()
    return queued
