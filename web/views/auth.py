"""Sign in and out. Every sign-in is audited: who looked at patient data is part of the record."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from tracker.services.users import authenticate, stamp_login
from web.auth import WebUser, user
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


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if user() is not None and request.method != "POST":
        return redirect(safe_next(request.args.get("next")))
    if request.method != "POST":
        return render_template("login.html", username="", next=request.args.get("next", ""))
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    session = get_session()
    found = authenticate(session, username, password)
    if found is None:
        return render_template("login.html", username=username, next=request.form.get("next", ""),
                               error="Unknown username or wrong password."), 401
    stamp_login(session, found.username)
    login_user(WebUser(found))
    return redirect(safe_next(request.form.get("next")))


@bp.post("/logout")
def logout() -> Response:
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
