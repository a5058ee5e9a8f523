"""A dependency we cannot reach (PostgreSQL, Redis) is an outage, not a bug of ours.

`lost_dependency(exc)` tells one apart from an unexpected error by the exception and what it
was raised from, so that every route answers an outage the same way: 503
`service_unavailable`, `details.retryable: true` (a retry once it is back will do), and one log
line without a traceback instead of a 500 `internal_error` with one.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import asyncpg
import redis.exceptions
import sqlalchemy.exc

from server.errors import ServiceUnavailable

MESSAGE = "A service we depend on is unavailable; try again shortly."

_LOST: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted, broken pipe
    socket.gaierror,  # the database's host name does not resolve
    TimeoutError,  # a connection attempt that was not answered
    sqlalchemy.exc.TimeoutError,  # every pooled connection busy past the pool's timeout
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def lost_dependency(exc: BaseException) -> bool:
    for error in _chain(exc):
        if isinstance(error, _LOST):
            return True
        if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
            return True
        # asyncpg's word for a connection it already knew to be dead (its class also covers misuse).
        if isinstance(error, asyncpg.InterfaceError) and "connection is closed" in str(error):
            return True
    return False


def log_failure(logger: logging.Logger, message: str, exc: BaseException, **extra: Any) -> None:
    """Log a failure: an outage in one line (it is not our bug, and during one every request
    would write a traceback), anything else with its traceback."""
    if lost_dependency(exc):
        logger.warning(f"{message}: dependency unavailable", extra={**extra, "error": describe(exc)})
    else:
        logger.error(message, exc_info=exc, extra=extra)


def unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(MESSAGE, details={"retryable": True})


def describe(exc: BaseException) -> str:
    """One line for the log: the outermost and innermost errors (no traceback: it is not ours)."""
    errors = list(_chain(exc))
    parts = [errors[0], errors[-1]] if len(errors) > 1 else errors
    return " <- ".join(f"{type(e).__name__}: {str(e)[:200]}" for e in parts)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__
