"""`ivr users`: staff accounts for the console."""

from __future__ import annotations

import sys

import click

from ivr.cli.common import connect_redis, operator
from ivr.clinic.settings import ROLES


def _new_password(from_stdin: bool) -> str:
    from ivr.staff.passwords import check_new_password

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")
    problem = check_new_password(password)
    if problem:
        click.echo(f"refused: {problem}", err=True)
        sys.exit(1)
    return password


@click.group()
def users() -> None:
    """Staff accounts for the console."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the user works on (admins see all queues).")
@click.option("--phone", default="", help="The user's own phone in +E.164 form (for click-to-call).")
@click.option("--display-name", default="", help="How the console greets the user (default: NAME).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin instead of prompting.")
def users_add(name: str, role: str, phone: str, display_name: str, password_stdin: bool) -> None:
    """Create a console user NAME (lowercase letters, digits, '.', '_', '-'); asks for the password twice."""
    from ivr.staff.passwords import hash_password
    from ivr.store import audit
    from ivr.store.users import UserError, UserStore, check_display_name, check_phone, check_username

    try:
        check_username(name)
        check_phone(phone)
        check_display_name(display_name)
    except UserError as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    conn = connect_redis()
    store = UserStore(conn)
    if store.get(name) is not None:
        click.echo(f"refused: a user named {name!r} already exists", err=True)
        sys.exit(1)
    password = _new_password(password_stdin)
    try:
        user = store.add(name, role, hash_password(password), phone=phone, display_name=display_name)
    except UserError as exc:  # includes a user added by someone else meanwhile
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    audit.AuditLog(conn).record(operator(), audit.USER_ADD, target=user.name, detail=f"role {user.role}")
    click.echo(f"added {user.name} ({user.role})")


@users.command("list")
def users_list() -> None:
    """Every user: name, role, status, display name, phone (masked), created."""
    from ivr.protection.logging_setup import mask_number
    from ivr.store.users import UserStore

    rows = UserStore(connect_redis()).list()
    if not rows:
        click.echo("no users yet: add one with `ivr users add NAME --role ROLE`")
        return
    click.echo(f"{'NAME':<20} {'ROLE':<11} {'STATUS':<9} {'PHONE':<14} {'CREATED':<11} DISPLAY NAME")
    for u in rows:
        created = u.created_at.date().isoformat() if u.created_at else "-"
        phone = mask_number(u.phone) if u.phone else "-"
        status = "disabled" if u.disabled else "active"
        click.echo(f"{u.name:<20} {u.role:<11} {status:<9} {phone:<14} {created:<11} {u.display_name}".rstrip())


def _sessions_ended(count: int) -> str:
    return f"{count} open session{'s' * (count != 1)} ended"


@users.command("disable")
@click.argument("name")
def users_disable(name: str) -> None:
    """Stop NAME from logging in; their open sessions end at once."""
    from ivr.store import audit
    from ivr.store.users import UnknownUser, UserStore

    conn = connect_redis()
    try:
        ended = UserStore(conn).disable(name)
    except UnknownUser:
        click.echo(f"no user named {name!r}", err=True)
        sys.exit(1)
    audit.AuditLog(conn).record(operator(), audit.USER_DISABLE, target=name, detail=_sessions_ended(ended))
    click.echo(f"disabled {name} ({_sessions_ended(ended)})")


@users.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin instead of prompting.")
def users_password(name: str, password_stdin: bool) -> None:
    """Set a new password for NAME (asks twice); their open sessions end at once."""
    from ivr.staff.passwords import hash_password
    from ivr.store import audit
    from ivr.store.users import AUDIT_PASSWORD, UnknownUser, UserStore

    conn = connect_redis()
    store = UserStore(conn)
    if store.get(name) is None:
        click.echo(f"no user named {name!r}", err=True)
        sys.exit(1)
    password = _new_password(password_stdin)
    try:
        ended = store.set_password(name, hash_password(password))
    except UnknownUser:
        click.echo(f"no user named {name!r}", err=True)
        sys.exit(1)
    audit.AuditLog(conn).record(operator(), AUDIT_PASSWORD, target=name, detail=_sessions_ended(ended))
    click.echo(f"new password for {name} ({_sessions_ended(ended)})")


