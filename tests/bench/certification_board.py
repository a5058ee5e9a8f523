"""The certification board of a big dealership: `GET /api/v1/certifications?program_id=` for
`--people` salespeople with `--sessions` ended, scored sessions of the programme's scenarios in
all, through the whole ASGI stack in process (embedded PostgreSQL). Prints latency percentiles.

Run:  .venv/bin/python tests/bench/certification_board.py [--people 200 --sessions 50000 --requests 50]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import text

from server.accounts import create_user
from server.app import create_app
from server.db.embedded import start_embedded
from server.db.models import Dealership, Role, User
from server.practice.certification import standings
from server.practice.models import Program
from server.settings import Settings

SCENARIOS = ["needs-analysis-drill", "price-objection", "trade-in-objection", "think-about-it"]
PASSWORD = "bench-password-1"


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return (f"p50 {pick(0.5):7.2f} ms  p95 {pick(0.95):7.2f} ms  p99 {pick(0.99):7.2f} ms  "
            f"mean {statistics.fmean(ordered):7.2f} ms")


async def main(people: int, sessions: int, requests: int) -> None:
    url = start_embedded(Path(tempfile.mkdtemp(prefix="sparring-bench-board-")))
    settings = Settings(_env_file=None, environment="test", database_url=url,  # type: ignore[call-arg]
                        jwt_secret="bench-" + secrets.token_urlsafe(40), bcrypt_rounds=4, rag_workers=0,
                        redis_url=None, openai_api_key=None, elevenlabs_api_key=None, assignment_sweep_seconds=0)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        state = app.state.sparring
        async with state.sessionmaker() as db:
            dealership = Dealership(name="Bench Motors", slug="bench-motors-" + secrets.token_hex(3))
            db.add(dealership)
            await db.flush()
            db.add_all([User(email=f"p{n}@bench.example", password_hash="x", name=f"Person {n:03}", role=Role.user,
                             dealership_id=dealership.id) for n in range(people)])
            program = Program(dealership_id=dealership.id, name="Floor ready", scenario_ids=SCENARIOS,
                              levels={"bronze": 60, "silver": 75, "gold": 90})
            db.add(program)
            await db.commit()
            await create_user(db, email="admin@bench.example", password=PASSWORD, name="Admin",
                              role=Role.dealership_admin, dealership_id=dealership.id, bcrypt_rounds=4)
            await db.commit()
            started = time.perf_counter()
            # Sessions spread over the people and scenarios, with v2 scorecards (overall, passed).
            await db.execute(text("""
                INSERT INTO conversation_session (id, dealership_id, user_id, mode, channel, persona_id, persona,
                                                  scenario_id, status, scorecard, started_at, ended_at)
                SELECT gen_random_uuid(), :dealership, u.id, 'roleplay', 'text', 'bench', '{}'::jsonb,
                       (CAST(:scenarios AS text[]))[1 + ((n / :people) % :scenario_count)], 'ended',
                       jsonb_build_object('version', 2, 'overall', s.score, 'passed', s.score >= 70,
                                          'summary', s.filler),
                       now() - (n || ' minutes')::interval, now() - (n || ' minutes')::interval + interval '5 minutes'
                FROM generate_series(1, :sessions) AS n
                -- Correlated with n, so each session draws its own score; the filler makes the card
                -- about as big as a real one (criteria, reasons, quotes: ~3 KB), stored out of line.
                CROSS JOIN LATERAL (SELECT round((random() * 100 + n * 0)::numeric, 1)::float AS score,
                                           (SELECT string_agg(md5(random()::text || g::text), ' ')
                                            FROM generate_series(1, 90 + n * 0) AS g) AS filler) s
                JOIN LATERAL (SELECT id FROM app_user WHERE dealership_id = :dealership AND role = 'user'
                              ORDER BY id OFFSET (n % :people) LIMIT 1) u ON true
            """), {"dealership": dealership.id, "scenarios": SCENARIOS, "scenario_count": len(SCENARIOS),
                   "sessions": sessions, "people": people})
            await db.commit()
            await db.execute(text("ANALYZE conversation_session"))
            print(f"seeded {people} people, {sessions} sessions in {time.perf_counter() - started:.1f} s")
        transport = httpx.ASGITransport(app=app, client=("203.0.113.1", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            login = await client.post("/api/v1/auth/login", json={"email": "admin@bench.example", "password": PASSWORD})
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            times: list[float] = []
            for n in range(requests + 5):
                began = time.perf_counter()
                response = await client.get("/api/v1/certifications", headers=headers,
                                            params={"program_id": str(program.id)})
                elapsed = (time.perf_counter() - began) * 1000
                assert response.status_code == 200, response.text
                assert len(response.json()["items"]) == people
                if n >= 5:  # the first few warm caches and plans
                    times.append(elapsed)
            stages: dict[str, int] = {}
            for card in response.json()["items"]:
                stages[card["stage"]] = stages.get(card["stage"], 0) + 1
            print(f"board of {people} people ({stages}): {percentiles(times)} over {requests} requests")
        # The database's part: the one grouped query (`certification.standings`) on its own.
        async with state.sessionmaker() as db:
            user_ids = list((await db.execute(text("SELECT id FROM app_user WHERE role = 'user'"))).scalars())
            query_times = []
            for _ in range(requests):
                began = time.perf_counter()
                await standings(db, program, user_ids)
                query_times.append((time.perf_counter() - began) * 1000)
            print(f"standings query alone: {percentiles(query_times)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.people, args.sessions, args.requests))
