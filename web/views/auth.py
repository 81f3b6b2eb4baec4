"""Sign in and out. Every sign-in is audited: who looked at patient data is part of the record."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from tracker.errors import InvalidInput
from tracker.services.users import (
    Permission,
    authenticate,
    change_own_password,
    record_failed_sign_in,
    sign_out,
    stamp_login,
)
from web.auth import WebUser, remember_sign_in, requires, throttle_sign_in, user
from web.db import get_session

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """Only a path on this site (never //host or a scheme) may be a redirect target. Browsers
    drop tabs and newlines from a URL and read a backslash as a slash, so `/<TAB>/host` or
    `/\\host` would leave the site too: no whitespace, control character or backslash."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and all(c.isprintable() and not c.isspace() for c in target)
    ):
        return target
    return url_for("alerts.worklist")


def start_session(found: WebUser) -> None:
    """A fresh session for a signed-in person: nothing carried over from before (a new CSRF
    token too), keyed to the user's current session generation."""
    session.clear()
    login_user(found)


@bp.route("/login", methods=["GET", "POST"])
@throttle_sign_in
def login() -> str | Response | tuple[str, int]:
    if user() is not None and request.method != "POST":
        return redirect(safe_next(request.args.get("next")))
    if request.method != "POST":
        return render_template("login.html", username="", next=request.args.get("next", ""))
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    db = get_session()
    found = authenticate(db, username, password)
    if found is None:
        record_failed_sign_in(db, username, get_remote_address())
        return render_template("login.html", username=username, next=request.form.get("next", ""),
                               error="Unknown username or wrong password."), 401
    stamp_login(db, found.username)
    remember_sign_in(found.username)
    start_session(WebUser(found))
    return redirect(safe_next(request.form.get("next")))


@bp.post("/logout")
def logout() -> Response:
    """Sign out here and revoke the session server-side, so a copied cookie stops working."""
    me = user()
    if me is not None and not me.via_token:
        sign_out(get_session(), me.principal.id, address=get_remote_address())
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@requires(Permission.READ)
def change_password() -> str | Response | tuple[str, int]:
    """Every role may change their own password; it revokes their other sessions."""
    if request.method != "POST":
        return render_template("password.html", problems=[])
    me = user()
    assert me is not None
    try:
        changed = change_own_password(get_session(), me.username,
                                      request.form.get("current_password", ""),
                                      request.form.get("new_password", ""))
    except InvalidInput as exc:
        return render_template("password.html", problems=exc.problems), 400
    start_session(WebUser(changed))
    flash("Your password was changed; your other sessions are signed out.", "success")
    return redirect(url_for("alerts.worklist"))
