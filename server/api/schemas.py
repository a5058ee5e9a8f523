"""Schemas shared by several API areas. Input models forbid unknown fields."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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


class PageQuery(Input):
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=1_000_000)
