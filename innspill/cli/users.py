"""The `user` commands: dashboard accounts, their roles, passwords and sessions."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from innspill.cli.common import app, fail, instant, open_engine

user_app = typer.Typer(
    help="Dashboard accounts: administrators (may act) and viewers (read only).",
    no_args_is_help=True,
)
app.add_typer(user_app, name="user")


class RoleChoice(StrEnum):
    """The roles as the command line offers them (mirrors innspill.models.Role)."""

    ADMIN = "admin"
    VIEWER = "viewer"


UsernameArg = Annotated[str, typer.Argument(help="The user's name (letters, digits, . _ @ -).")]


#: Read the password from standard input instead of asking at a terminal (scripts, pipes).
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of standard input (for scripts: "
        "`printf '%s\\n' \"$PASSWORD\" | innspill user add NAME --password-stdin`), "
        "instead of asking for it twice at the terminal.",
    ),
]


def _ask_password(username: str, *, from_stdin: bool = False) -> str:
    from innspill.dashboard.auth import AccountError, check_password

    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise fail("--password-stdin: standard input is empty; nothing was saved.")
        password = line.removesuffix("\n").removesuffix("\r")
    else:
        password = typer.prompt("Password", hide_input=True)
        if typer.prompt("Repeat the password", hide_input=True) != password:
            raise fail("The passwords differ; nothing was saved.")
    try:
        check_password(password, username=username)
    except AccountError as exc:
        raise fail(f"{exc}; nothing was saved.") from None
    return password


@user_app.command("add")
def user_add(
    username: UsernameArg,
    role: Annotated[
        RoleChoice | None,
        typer.Option(
            help="admin may act (and manage users on the dashboard); viewer only reads. "
            "Default: admin for the first user, viewer after that."
        ),
    ] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create a dashboard account; asks for the password twice (at least 10 characters),
    or reads it from standard input with --password-stdin."""
    from innspill.dashboard.auth import AccountError, create_user
    from innspill.models import Role
    from innspill.models.db import session_scope

    password = _ask_password(username, from_stdin=password_stdin)
    try:
        with session_scope(open_engine()) as session:
            user = create_user(
                session, username, password, now=instant(None), role=Role(role) if role else None
            )
            given = user.role
    except AccountError as exc:
        raise fail(f"{exc}; nothing was saved.") from None
    typer.echo(
        f"User '{username}' created ({given}). Start the dashboard with `innspill dashboard`."
    )


@user_app.command("list")
def user_list() -> None:
    """Show every account: name, role, when it was made and last signed in, live sessions."""
    from innspill.dashboard.auth import active_sessions, list_users
    from innspill.models.db import session_scope

    with session_scope(open_engine()) as session:
        users = list_users(session)
        live = active_sessions(session, now=instant(None))
    if not users:
        typer.echo("No users. Add one with `innspill user add NAME`.")
        return
    typer.echo(
        f"{'user':<24} {'role':<7} {'created (UTC)':<17} {'last sign-in (UTC)':<18} sessions"
    )
    for user in users:
        last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "-"
        created = user.created_at.strftime("%Y-%m-%d %H:%M")
        count = live.get(user.id or 0, 0)
        typer.echo(f"{user.username:<24} {user.role:<7} {created:<17} {last:<18} {count}")


@user_app.command("role")
def user_role(
    username: UsernameArg,
    role: Annotated[RoleChoice, typer.Argument(help="admin (may act) or viewer (reads).")],
) -> None:
    """Make a user an administrator or a viewer; it holds from their next page."""
    from innspill.dashboard.auth import AccountError, set_role
    from innspill.models import Role
    from innspill.models.db import session_scope

    try:
        with session_scope(open_engine()) as session:
            set_role(session, username, role=Role(role))
    except AccountError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"User '{username}' is now {role}.")


@user_app.command("remove")
def user_remove(username: UsernameArg) -> None:
    """Delete an account and end all its sessions at once."""
    from innspill.dashboard.auth import AccountError, remove_user
    from innspill.models.db import session_scope

    try:
        with session_scope(open_engine()) as session:
            ended = remove_user(session, username)
    except AccountError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"User '{username}' removed; {ended} session(s) ended.")


@user_app.command("passwd")
def user_passwd(username: UsernameArg, password_stdin: PasswordStdin = False) -> None:
    """Set a new password (asked twice, or read with --password-stdin); every session of that
    user ends."""
    from innspill.dashboard.auth import AccountError, find_user, set_password
    from innspill.models.db import session_scope

    engine = open_engine()
    with session_scope(engine) as session:
        if find_user(session, username) is None:
            raise fail(f"there is no user '{username}'")
    password = _ask_password(username, from_stdin=password_stdin)
    try:
        with session_scope(engine) as session:
            ended = set_password(session, username, password=password)
    except AccountError as exc:
        raise fail(f"{exc}; nothing was saved.") from None
    typer.echo(f"New password for '{username}'; {ended} session(s) ended.")
