"""`sparring seed-demo`: a demo dealership with an admin and a trainee."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

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
    return printed
