"""Users and API tokens (admins only). A new token is shown once, on the response page."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tracker.errors import CalcitrackError, InvalidInput
from tracker.services import users
from tracker.services.users import Permission
from tracker.vocabulary import Role
from web.auth import actor, requires
from web.db import get_session

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _page(status: int = 200, **extra: object) -> tuple[str, int]:
    session = get_session()
    owners = {u.id: u.username for u in users.list_users(session)}
    return render_template(
        "admin/users.html", users=users.list_users(session), tokens=users.tokens_of(session),
        owners=owners, roles=[r.value for r in Role], **extra,
    ), status


@bp.get("/users")
@requires(Permission.MANAGE_USERS)
def index() -> tuple[str, int]:
    return _page()


@bp.post("/users")
@requires(Permission.MANAGE_USERS)
def create() -> Response | tuple[str, int]:
    form = request.form
    try:
        made = users.create_user(get_session(), form.get("username", "").strip(),
                                 form.get("password", ""), form.get("role", ""), actor=actor())
    except InvalidInput as exc:
        return _page(400, problems=exc.problems, values=form)
    except CalcitrackError as exc:
        return _page(409, problems=[], error=str(exc), values=form)
    flash(f"User {made.username} ({made.role.value}) created.", "success")
    return redirect(url_for("admin.index"))


def _change(change: Callable[[], object], success: str) -> Response:
    """One change from the users page: its refusal (other than invalid input, which the caller
    shows on the page) or `success` as a flash message, then back to the page."""
    try:
        change()
    except InvalidInput:
        raise
    except CalcitrackError as exc:
        flash(str(exc), "error")
    else:
        flash(success, "success")
    return redirect(url_for("admin.index"))


@bp.post("/users/<username>/active")
@requires(Permission.MANAGE_USERS)
def set_active(username: str) -> Response:
    active = request.form.get("active") == "1"
    return _change(lambda: users.set_user_active(get_session(), username, active, actor=actor()),
                   f"User {username} {'reactivated' if active else 'deactivated'}.")


@bp.post("/users/<username>/password")
@requires(Permission.MANAGE_USERS)
def set_password(username: str) -> Response | tuple[str, int]:
    """An admin sets a new password for someone (e.g. forgotten); their sessions end."""
    password = request.form.get("password", "")
    try:
        return _change(
            lambda: users.set_password(get_session(), username, password, actor=actor()),
            f"Password of {username} changed; their sessions are signed out.")
    except InvalidInput as exc:
        return _page(400, password_problems=exc.problems, password_user=username)


@bp.post("/users/<username>/tokens")
@requires(Permission.MANAGE_USERS)
def issue_token(username: str) -> tuple[str, int] | Response:
    try:
        token = users.issue_token(get_session(), username, request.form.get("name", ""),
                                  actor=actor())
    except CalcitrackError as exc:
        flash(f"No token issued: {exc}", "error")
        return redirect(url_for("admin.index"))
    body, status = _page(new_token=token, token_owner=username)
    return body, status


@bp.post("/tokens/<int:token_id>/revoke")
@requires(Permission.MANAGE_USERS)
def revoke_token(token_id: int) -> Response:
    return _change(lambda: users.revoke_token(get_session(), token_id, actor=actor()),
                   "Token revoked.")
