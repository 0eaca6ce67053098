"""The users page: every account, by role and state, with disable and enable (a disabled
account's sessions end at once), through ``services.users``."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from leadflow.api.deps import Tx
from leadflow.console import forms, web
from leadflow.console.forms import PAGE_SIZE, Filter, PageNo
from leadflow.console.render import pager, render
from leadflow.console.web import AdminViewer
from leadflow.services import users
from leadflow.services.pages import PageRequest

router = APIRouter(prefix="/console")
STATES = {"active": True, "disabled": False}


@router.get("/users")
def users_page(
    request: Request,
    viewer: AdminViewer,
    tx: Tx,
    page: PageNo = 1,
    role: Filter = None,
    state: Filter = None,
) -> Response:
    result = users.list_users(
        tx,
        role=role or None,
        is_active=STATES.get(state or ""),
        page=PageRequest(page=page, limit=PAGE_SIZE),
    )
    return render(
        request,
        "users.html",
        viewer=viewer,
        users=result.items,
        pager=pager(request, result),
        roles=list(users.ROLES),
        states=list(STATES),
        role=role or "",
        state=state or "",
    )


def _set_active(viewer: web.Viewer, tx: Tx, user_id: UUID, *, active: bool) -> Response:
    return forms.submit(
        tx,
        lambda: users.set_active(tx, actor=viewer.actor, user_id=user_id, active=active),
        to="/console/users",
        flash=lambda user: f"{user.email} is {'enabled' if active else 'disabled'}",
    )


@router.post("/users/{user_id}/disable", dependencies=[web.Csrf])
def disable(user_id: UUID, viewer: AdminViewer, tx: Tx) -> Response:
    return _set_active(viewer, tx, user_id, active=False)


@router.post("/users/{user_id}/enable", dependencies=[web.Csrf])
def enable(user_id: UUID, viewer: AdminViewer, tx: Tx) -> Response:
    return _set_active(viewer, tx, user_id, active=True)
