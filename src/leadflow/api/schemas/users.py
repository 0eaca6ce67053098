"""API schemas of user accounts as admins see them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from leadflow.api.schemas.base import Out


class UserOut(Out):
    id: UUID
    email: str
    role: str
    provider_id: UUID | None
    provider_name: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime
