"""`tracker user`: people who sign in to the web pages, and API tokens for machine clients."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from tracker.cli.edge import (
    CLI_ACTOR,
    reports_errors,
    session,
    settings,
)
from tracker.cli.suggest import SuggestingGroup
from tracker.errors import ServiceUnavailable
from tracker.services import users
from tracker.vocabulary import Role


@click.group("user", cls=SuggestingGroup)
def user_group() -> None:
    """People who sign in to the web pages, and API tokens for machine clients."""


@user_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]),
              default="clinician", show_default=True)
@click.option("--password", default=None,
              help="Password (prompted, hidden, when not given; at least 10 characters, "
                   "not easy to guess).")
@reports_errors
def user_add_cmd(username: str, role: str, password: str | None) -> None:
    """Add a user who signs in to the web pages."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with session() as s:
        made = users.create_user(s, username, str(password), role, actor=CLI_ACTOR)
    click.echo(f"user {made.username} added ({made.role.value})")


@user_group.command("password")
@click.argument("username")
@click.option("--password", default=None, help="New password (prompted, hidden, when not given).")
@reports_errors
def user_password_cmd(username: str, password: str | None) -> None:
    """Set a new password for USERNAME; every session of theirs is signed out."""
    if password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    with session() as s:
        users.set_password(s, username, str(password), actor=CLI_ACTOR)
    click.echo(f"password of {username} changed; their sessions are signed out")


@user_group.command("token")
@click.argument("username")
@click.argument("name")
@reports_errors
def user_token_cmd(username: str, name: str) -> None:
    """Issue an API token NAME for USERNAME; it is printed once and stored only hashed."""
    with session() as s:
        token = users.issue_token(s, username, name, actor=CLI_ACTOR)
    click.echo(token)


@user_group.command("demo")
@click.option("--print-password", is_flag=True, help="Only print the demo user's password.")
@reports_errors
def user_demo_cmd(print_password: bool) -> None:
    """Create the `demo` admin once, with a random password kept in the instance folder."""
    cfg = settings()
    secret = Path(cfg.instance_path) / "demo-password"
    if not secret.exists():
        try:
            secret.parent.mkdir(parents=True, exist_ok=True)
            secret.write_text(secrets.token_urlsafe(12) + "\n", encoding="utf-8")
            secret.chmod(0o600)
        except OSError as exc:
            raise ServiceUnavailable(
                f"cannot write {secret}: {exc.strerror or exc}; set CALCITRACK_INSTANCE to a "
                "writable folder"
            ) from None
    password = secret.read_text(encoding="utf-8").strip()
    if print_password:
        click.echo(password)
        return
    with session() as s:
        if users.user_exists(s, "demo"):
            click.echo("demo user already exists")
            return
        users.create_user(s, "demo", password, Role.ADMIN.value, actor=CLI_ACTOR)
    click.echo(f"demo user added (password in {secret})")


def register(main: click.Group) -> None:
    main.add_command(user_group)
