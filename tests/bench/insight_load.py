"""Team insight under load: one dealership of 200 people and 50,000 ended sessions (plus a second
dealership of the same size, so the index has to pick one out), then GET /api/v1/insights/team
and its CSV through the real app (ASGI, in process: routing, auth, validation, queries, JSON)
over the whole range and over the last 4 weeks. Prints p50/p95/max per request.

Rows are bulk-inserted with generate_series (sessions and their `session_insight` summary rows
as the end of a session writes them). Uses DATABASE_URL if set, else an embedded PostgreSQL in a
temporary folder.

    .venv/bin/python tests/bench/insight_load.py [--people 200] [--sessions 50000] [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from server.accounts import create_user  # noqa: E402
from server.app import create_app  # noqa: E402
from server.db.embedded import start_embedded, to_asyncpg_url  # noqa: E402
from server.db.models import Dealership, Role  # noqa: E402
from tests.conftest import TEST_PASSWORD, make_settings  # noqa: E402

SEED = """
WITH people AS (
    SELECT array_agg(id ORDER BY id) AS ids FROM app_user WHERE dealership_id = CAST(:d AS uuid) AND role = 'user'
), rows AS (
    SELECT gen_random_uuid() AS id, (SELECT ids FROM people)[1 + (n % :people)] AS user_id,
           now() - make_interval(secs => (n * 7919 % (182 * 86400))) AS started_at, n
    FROM generate_series(1, :sessions) AS n
), sessions AS (
    INSERT INTO conversation_session (id, dealership_id, user_id, mode, channel, persona_id, persona, scenario_id,
                                      status, message_count, started_at, last_activity_at, ended_at)
    SELECT id, CAST(:d AS uuid), user_id, 'roleplay', 'text', 'sam-price', '{}', 'scenario-' || (n % 9), 'ended', 8,
           started_at, started_at + make_interval(secs => 120 + n % 600), started_at + make_interval(secs => 900)
    FROM rows RETURNING id
)
INSERT INTO session_insight (session_id, dealership_id, user_id, practice_key, practice_label, objections,
                             started_at, duration_s, overall, passed)
SELECT id, CAST(:d AS uuid), user_id, 'scenario-' || (n % 9), 'Scenario ' || (n % 9),
       (CASE n % 5 WHEN 0 THEN '{price,spouse}' WHEN 1 THEN '{trade_in,price}'
                   WHEN 2 THEN '{monthly_payment,competitor}' WHEN 3 THEN '{think_about_it,fi_products}'
                   ELSE '{spouse,trade_in}' END)::varchar[],
       started_at, 120 + n % 600, CASE WHEN n % 11 = 0 THEN NULL ELSE (n * 37 % 101)::float END,
       CASE WHEN n % 11 = 0 THEN NULL ELSE (n * 37 % 101) >= 70 END
FROM rows
"""


async def seed(state, people: int, sessions: int) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    dealers = []
    async with state.sessionmaker() as db:
        for i in range(2):
            dealer = Dealership(name=f"Bench {i}", slug=f"bench-{os.getpid()}-{i}", settings={})
            db.add(dealer)
            await db.flush()
            dealers.append(dealer.id)
        admin = f"admin-{os.getpid()}@example.com"
        await create_user(db, email=admin, password=TEST_PASSWORD, name="Admin", role=Role.dealership_admin,
                          dealership_id=dealers[0], bcrypt_rounds=4)
        await db.commit()
    started = time.perf_counter()
    async with state.engine.begin() as conn:
        for dealer in dealers:
            await conn.execute(text(
                "INSERT INTO app_user (id, email, password_hash, name, role, dealership_id) "
                "SELECT gen_random_uuid(), 'p' || n || '-' || :tag || '@example.com', 'x', 'Person ' || n, 'user', "
                "CAST(:d AS uuid) "
                "FROM generate_series(1, :people) AS n"), {"d": dealer, "tag": str(dealer)[:8], "people": people})
            await conn.execute(text(SEED), {"d": dealer, "people": people, "sessions": sessions})
        await conn.execute(text("ANALYZE session_insight"))
    print(f"seeded 2 dealerships x {people} people x {sessions} sessions in {time.perf_counter() - started:.1f} s")
    return admin, str(dealers[0])


async def timed(client: httpx.AsyncClient, path: str, headers: dict[str, str], params: dict[str, str],
                count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = await client.get(path, headers=headers, params=params)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return times


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    database_url = to_asyncpg_url(os.environ["DATABASE_URL"]) if os.environ.get("DATABASE_URL") \
        else start_embedded(Path(tempfile.mkdtemp(prefix="bench-pg-")))
    app = create_app(make_settings(database_url))
    async with app.router.lifespan_context(app):
        admin, _ = await seed(app.state.sparring, args.people, args.sessions)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            login = await client.post("/api/v1/auth/login", json={"email": admin, "password": TEST_PASSWORD})
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            four_weeks = {"from": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 28 * 86400))}
            every = f"all {args.sessions} sessions"
            for label, path, params in ((f"JSON, {every}", "/api/v1/insights/team", {}),
                                        ("JSON, last 4 weeks", "/api/v1/insights/team", four_weeks),
                                        (f"CSV, {every}", "/api/v1/insights/team.csv", {})):
                await timed(client, path, headers, params, 5)  # warm the caches and plans
                times = sorted(await timed(client, path, headers, params, args.requests))
                p95 = times[int(len(times) * 0.95) - 1]
                print(f"{label}: n={len(times)} p50={statistics.median(times):.1f} ms p95={p95:.1f} ms "
                      f"max={times[-1]:.1f} ms")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
