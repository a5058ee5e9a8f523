"""Schemas shared by several API areas. Input models forbid unknown fields."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from server.auth.passwords import MAX_PASSWORD_BYTES
from server.db.models import Role


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


Email = Annotated[
    str,
    # No whitespace or control characters (spelled out: "\s" means different things to Python
    # and to the ECMA regexes OpenAPI clients use); clients trim what users type.
    StringConstraints(to_lower=True, min_length=3, max_length=254,
                      pattern=r"^[^@\x00-\x20\x7f]+@[^@\x00-\x20\x7f]+\.[^@\x00-\x20\x7f]+$"),
]
Password = Annotated[str, Field(min_length=8, max_length=MAX_PASSWORD_BYTES)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_8601(value: Any) -> Any:
    # pydantic also reads numbers ("0.5", 1700000000) as Unix times; the schema says date-time.
    if isinstance(value, int | float) or (isinstance(value, str) and not _ISO_DATE.match(value)):
        raise ValueError("use an ISO 8601 date and time, e.g. 2024-05-01T09:00:00Z")
    return value


def _utc(value: datetime) -> datetime:
    # In UTC, as the database compares it: 9999-12-31T23:59:59-14:00 is past the last year a
    # datetime can hold, which is a client's mistake (422), not our OverflowError (500).
    try:
        return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    except OverflowError:
        raise ValueError("out of range once converted to UTC (years 1 to 9999)") from None


# Every date-time a client sends: ISO 8601 only, within range in UTC; without an offset it is UTC.
Timestamp = Annotated[datetime, BeforeValidator(_iso_8601), AfterValidator(_utc)]


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class UserOut(Output):
    id: uuid.UUID
    email: str
    name: str
    role: Role
    dealership_id: uuid.UUID | None


class UserDetail(UserOut):
    active: bool
    last_login_at: datetime | None
    created_at: datetime
    # Set while an emailed invite waits to be accepted: when its link stops working.
    invite_expires_at: datetime | None = None


class PageQuery(Input):
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=1_000_000)
