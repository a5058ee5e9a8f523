"""The sender: delivers the webhook outbox, one supervised task per process (`webhook-sender`).

Claim: a short transaction takes due deliveries of active endpoints with `FOR UPDATE SKIP
LOCKED` (two instances never take the same one) and marks them `sending` with a lease; the POST
is made outside any transaction, and its outcome recorded only while the lease is still ours. A
process that dies mid-attempt leaves a lease that runs out, and the delivery is taken again: at
least once, with the same `webhook-id` every time. At most WEBHOOK_CONCURRENCY attempts run at
once per process, each as its own task, so one slow receiver holds one slot, not the queue.

Success is a 2xx within 10 s; redirects are not followed. A failure waits WEBHOOK_RETRY_BASE_S,
then twice that, and so on, while the next attempt falls within WEBHOOK_RETRY_WINDOW_S (24 h) of
the event; then the delivery has failed, and if nothing reached the endpoint since that event
was made, the endpoint is switched off and its dealership's admins are emailed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpcore
import httpx
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server import outage
from server.db.engine import DriverStatement, driver, plain_uuid
from server.db.models import Role, User
from server.mail import outbox
from server.mail.outbox import Mail
from server.settings import Settings
from server.tasks import TaskSupervisor
from server.webhooks import signing, urls
from server.webhooks.events import CHANNEL
from server.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0  # a 2xx within this is success (docs/webhooks.md)
RESPONSE_READ_BYTES = 64 * 1024  # a receiver's answer is read this far, then dropped
USER_AGENT = "Sparring-Webhooks/1"


# The claim and the record of a success run once per delivery: single statements on the driver
# (`DriverStatement`), each its own transaction, with none of the ORM's per-statement work on the
# event loop, which the chats and voice sessions share (tests/bench/webhook_throughput.py).
_CLAIM = DriverStatement(text("""
    WITH due AS (
        SELECT d.id FROM webhook_delivery d JOIN webhook_endpoint e ON e.id = d.endpoint_id
        WHERE e.active AND ((d.status = 'pending' AND d.next_attempt_at <= now())
                            -- a sender that died mid-attempt: its lease ran out
                            OR (d.status = 'sending' AND d.lease_until < now()))
        ORDER BY d.next_attempt_at LIMIT :limit
        FOR UPDATE OF d SKIP LOCKED
    ), claimed AS (
        UPDATE webhook_delivery d
        SET status = 'sending', lease_token = :lease, last_attempt_at = now(),
            lease_until = now() + make_interval(secs => :lease_s), attempts = d.attempts + 1
        FROM due WHERE d.id = due.id
        RETURNING d.id, d.endpoint_id, d.dealership_id, d.event_id, d.body, d.attempts, d.created_at
    )
    SELECT c.*, e.url, e.secret FROM claimed c JOIN webhook_endpoint e ON e.id = c.endpoint_id
"""))
# Only while the lease is ours: if it ran out and another sender took the delivery over, that
# sender records the outcome.
_SUCCEEDED = DriverStatement(text("""
    WITH done AS (
        UPDATE webhook_delivery
        SET status = 'succeeded', response_code = :code, last_error = NULL, delivered_at = now(),
            lease_token = NULL, lease_until = NULL
        WHERE id = :id AND lease_token = :lease
        RETURNING endpoint_id
    )
    UPDATE webhook_endpoint SET last_success_at = now() WHERE id IN (SELECT endpoint_id FROM done)
"""))

_RELEASE = DriverStatement(text("""
    UPDATE webhook_delivery SET status = 'pending', lease_token = NULL, lease_until = NULL, next_attempt_at = now()
    WHERE id = :id AND lease_token = :lease
"""))


def backoff_seconds(attempts: int, base: float) -> float:
    """The wait after attempt `attempts` failed: base, 2*base, 4*base, ..."""
    return float(base * 2 ** max(0, attempts - 1))


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the address `urls.checked_address` approved for this request's host, never
    to what a second lookup would say; a host with no approved address is not connected to."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109 (httpcore's)
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        address = (urls.pinned.get() or {}).get(host)
        if address is None:
            raise httpcore.ConnectError(f"{host}: no checked address to connect to")
        return await self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                             socket_options=socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks do not go to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport over a connection pool that connects through `PinnedBackend`. The
    pool is keyed by host name, so TLS is verified against the name as usual."""

    def __init__(self, max_connections: int) -> None:
        super().__init__(retries=0)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=max_connections,
            max_keepalive_connections=max_connections, keepalive_expiry=5.0, retries=0,
            network_backend=PinnedBackend())


@dataclass(frozen=True, slots=True)
class Job:
    id: uuid.UUID
    endpoint_id: uuid.UUID
    dealership_id: uuid.UUID
    event_id: str
    body: str
    attempts: int
    created_at: datetime
    url: str
    secret: str
    lease: uuid.UUID


class WebhookSender:
    def __init__(self, settings: Settings, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession],
                 mail: Mail, database_url: str | None = None) -> None:
        self._settings = settings
        self._engine = engine
        self._sessionmaker = sessionmaker
        self._mail = mail
        self._database_url = database_url
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._saturated = False
        self.delivered = 0  # attempts answered 2xx by this process (benchmarks)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        listener = await self._listen()
        transport = PinnedTransport(self._settings.webhook_concurrency)
        try:
            async with httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False,
                                         timeout=TIMEOUT_S, headers={"user-agent": USER_AGENT}) as client, \
                    asyncio.TaskGroup() as group:
                while True:
                    free = self._settings.webhook_concurrency - len(self._in_flight)
                    claimed: list[Job] = []
                    if free > 0:
                        try:
                            claimed = await self._claim(free)
                        except Exception as exc:
                            # The database went away (or a bug): log once per round, keep the task alive.
                            outage.log_failure(log, "webhook claim failed", exc)
                    for job in claimed:
                        task = group.create_task(self._attempt(client, job), name=f"webhook-{job.id}")
                        self._in_flight.add(task)
                        task.add_done_callback(self._done)
                    # Every slot taken: more may be due, and a finishing attempt wakes the loop to
                    # claim again. Otherwise nothing else is due now, so a finishing attempt need
                    # not (a claim that finds nothing would cost a statement per delivery).
                    self._saturated = len(claimed) == free
                    if claimed and self._saturated:
                        continue
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self._settings.webhook_poll_seconds)
                    self._wake.clear()
        finally:
            if listener is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(listener.close(), 2)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._saturated:
            self._wake.set()

    async def _listen(self) -> asyncpg.Connection | None:
        if not self._database_url:
            return None

        def wake(*_: object) -> None:
            self._wake.set()

        try:
            conn = await asyncpg.connect(self._database_url.replace("postgresql+asyncpg://", "postgresql://"))
            await conn.add_listener(CHANNEL, wake)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("webhook notifications unavailable; polling only", extra={"error": str(exc)})
            return None
        return conn

    async def _claim(self, limit: int) -> list[Job]:
        lease = uuid.uuid4()
        async with driver(self._engine) as conn:
            rows = await _CLAIM.fetch(conn, {"limit": limit, "lease": lease,
                                             "lease_s": float(self._settings.webhook_lease_seconds)})
        return [Job(id=plain_uuid(r["id"]), endpoint_id=plain_uuid(r["endpoint_id"]),
                    dealership_id=plain_uuid(r["dealership_id"]), event_id=r["event_id"], body=r["body"],
                    attempts=r["attempts"], created_at=r["created_at"], url=r["url"], secret=r["secret"], lease=lease)
                for r in rows]

    async def _attempt(self, client: httpx.AsyncClient, job: Job) -> None:
        try:
            try:
                code, error = await self._post(client, job)
            except asyncio.CancelledError:
                # Shutting down: hand the delivery back now instead of making it wait out its lease
                # (it may have arrived: at least once).
                await asyncio.shield(self._release(job))
                raise
            if error is None:
                await self._succeeded(job, code)
            else:
                await self._failed(job, code, error)
        except Exception as exc:  # recording the outcome failed: the lease runs out and it is tried again
            outage.log_failure(log, "webhook attempt not recorded", exc, delivery_id=str(job.id))

    async def _post(self, client: httpx.AsyncClient, job: Job) -> tuple[int | None, str | None]:
        body = job.body.encode()
        try:
            async with asyncio.timeout(TIMEOUT_S):
                _host, address = await urls.checked_address(job.url, self._settings)
                request = client.build_request("POST", job.url, content=body, headers={
                    "content-type": "application/json", **signing.headers(job.secret, job.event_id, body)})
                token = urls.pinned.set({request.url.raw_host.decode("ascii"): address})
                try:
                    response = await client.send(request, stream=True)
                    try:
                        await _read_some(response)
                    finally:
                        await response.aclose()
                finally:
                    urls.pinned.reset(token)
        except urls.UrlRefused as exc:
            return None, str(exc)
        except TimeoutError:
            return None, f"No answer within {TIMEOUT_S:.0f} s."
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500] if str(exc) else type(exc).__name__
        code = response.status_code
        if 200 <= code < 300:
            return code, None
        if 300 <= code < 400:
            return code, f"HTTP {code} (redirects are not followed)"
        return code, f"HTTP {code}"

    async def _release(self, job: Job) -> None:
        try:
            async with asyncio.timeout(2), driver(self._engine) as conn:
                await _RELEASE.execute(conn, {"id": job.id, "lease": job.lease})
        except Exception as exc:  # the lease runs out instead
            log.warning("webhook delivery not handed back", extra={"delivery_id": str(job.id),
                                                                   "error": outage.describe(exc)})

    async def _succeeded(self, job: Job, code: int | None) -> None:
        async with driver(self._engine) as conn:
            await _SUCCEEDED.execute(conn, {"id": job.id, "lease": job.lease, "code": code})
        self.delivered += 1

    async def _failed(self, job: Job, code: int | None, error: str) -> None:
        wait = backoff_seconds(job.attempts, self._settings.webhook_retry_base_s)
        now = datetime.now(UTC)
        gave_up = now + timedelta(seconds=wait) > job.created_at + timedelta(
            seconds=self._settings.webhook_retry_window_s)
        async with self._sessionmaker() as db, db.begin():
            values: dict[str, Any] = {"response_code": code, "last_error": error, "lease_token": None,
                                      "lease_until": None}
            if gave_up:
                values["status"] = DeliveryStatus.failed.value
            else:
                values.update(status=DeliveryStatus.pending.value, next_attempt_at=now + timedelta(seconds=wait))
            # Only while the lease is ours: if it ran out and another sender took the delivery
            # over, that sender records the outcome.
            done = await db.execute(update(WebhookDelivery)
                                    .where(WebhookDelivery.id == job.id, WebhookDelivery.lease_token == job.lease)
                                    .values(**values).returning(WebhookDelivery.id))
            if done.one_or_none() is not None and gave_up:
                await self._maybe_disable(db, job)
        log.warning("webhook not delivered", extra={
            "delivery_id": str(job.id), "endpoint_id": str(job.endpoint_id), "attempt": job.attempts,
            "response_code": code, "gave_up": gave_up, "retry_in_s": None if gave_up else wait})

    async def _maybe_disable(self, db: AsyncSession, job: Job) -> None:
        endpoint = await db.get(WebhookEndpoint, job.endpoint_id, with_for_update=True)
        if endpoint is None or not endpoint.active:
            return
        if endpoint.last_success_at is not None and endpoint.last_success_at >= job.created_at:
            return  # it has answered since this event was made: a bad event, not a dead endpoint
        hours = self._settings.webhook_retry_window_s / 3600
        endpoint.active = False
        endpoint.disabled_at = datetime.now(UTC)
        endpoint.disabled_reason = (f"Switched off: no delivery succeeded for {hours:g} h "
                                    f"({job.attempts} attempts of event {job.event_id}).")
        admins = (await db.execute(select(User).where(
            User.dealership_id == endpoint.dealership_id, User.role == Role.dealership_admin,
            User.active.is_(True), User.deleted_at.is_(None)))).scalars().all()
        link = f"{self._settings.public_url.rstrip('/')}/webhooks"
        for admin in admins:
            await outbox.enqueue(
                db, self._mail, dealership_id=endpoint.dealership_id, to=admin.email, template="webhook_disabled",
                context={"name": admin.name, "url": endpoint.url, "reason": endpoint.disabled_reason, "link": link},
                idempotency_key=f"webhook-disabled:{endpoint.id}:{endpoint.disabled_at.isoformat()}:{admin.id}")
        log.warning("webhook endpoint switched off", extra={"endpoint_id": str(endpoint.id),
                                                            "admins_emailed": len(admins)})


async def _read_some(response: httpx.Response) -> None:
    """Read the answer up to a bound, so the connection can be reused; a longer one is dropped."""
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read > RESPONSE_READ_BYTES:
            return


@asynccontextmanager
async def webhooks_lifespan(settings: Settings, database_url: str, engine: AsyncEngine,
                            sessionmaker: async_sessionmaker[AsyncSession], tasks: TaskSupervisor,
                            mail: Mail) -> AsyncIterator[WebhookSender]:
    sender = WebhookSender(settings, engine, sessionmaker, mail, database_url)
    if settings.webhook_concurrency == 0:  # another instance sends
        yield sender
        return
    task = tasks.spawn("webhook-sender", sender.run())
    try:
        yield sender
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
