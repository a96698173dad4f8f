"""`ivr followups`: appointments imported, API keys for the scheduling system, the do-not-call list."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ivr.cli.common import clinic_or_exit, connect_redis, operator


@click.group()
def followups() -> None:
    """Follow-up calls after appointments."""


@followups.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--scope", default="", metavar="SCOPE",
              help="The API key scope the appointments belong to (only its keys may then read, move or "
                   "cancel them). Without it the first key to touch one takes it.")
def followups_import(file: Path, scope: str) -> None:
    """Import appointments from a CSV FILE (header row) and schedule their follow-up calls.

    Columns: name, phone, appointment_time, provider, department, language; optional timezone,
    id and status (cancelled or no-show cancels the follow-up). Bad rows are reported with their
    line and reason; good rows are imported; a known appointment with a new time or number is
    moved; importing the same file again changes nothing. Exit status 1 if any row was refused.
    """
    import datetime as dt

    from rq import Queue

    from ivr.followups.appointments import Cancellation, RowError, Rules, read_csv
    from ivr.store import audit
    from ivr.store.api_keys import ApiKeyError, check_name
    from ivr.store.appointment_scopes import AppointmentScopes
    from ivr.store.followups import FollowupStore
    from ivr.workers import DEFAULT_QUEUE
    from ivr.workers.followup_changes import Changes, apply_changes

    try:
        scope = check_name(scope, "a scope") if scope.strip() else ""
    except ApiKeyError as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    clinic = clinic_or_exit()
    conn = connect_redis()
    rules = Rules.for_clinic(clinic)
    store = FollowupStore(conn)
    queue = Queue(DEFAULT_QUEUE, connection=conn)
    log_ = audit.AuditLog(conn)
    now = dt.datetime.now(dt.timezone.utc)
    errors: list[tuple[int, str]] = []
    total = Changes()
    batch: list = []
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        click.echo(f"cannot read {file}: {exc}", err=True)
        sys.exit(1)

    def apply() -> None:
        if scope:  # each row is claimed for the scope first; one another scope owns is refused, not touched
            mine = AppointmentScopes(conn).claim(
                [(item.id, not isinstance(item, Cancellation)) for _, item in batch], scope)
            errors.extend((line, f"it belongs to another API key scope than {scope!r}")
                          for (line, _), ok in zip(batch, mine) if not ok)
            batch[:] = [entry for entry, ok in zip(batch, mine) if ok]
        done = apply_changes(queue, store, batch, clinic, now, actor=operator(), audit=log_)
        total.imported += done.imported
        total.updated += done.updated
        total.cancelled += done.cancelled
        total.unchanged += done.unchanged
        errors.extend(done.refused)
        batch.clear()

    lines = text.splitlines(keepends=True)
    with click.progressbar(read_csv(iter(lines), rules, now), length=max(len(lines) - 1, 1), label="Importing",
                           file=sys.stderr) as rows:
        for line, item in rows:
            if isinstance(item, RowError):
                errors.append((item.where, item.reason))
                continue
            batch.append((line, item))
            if len(batch) >= 500:
                apply()
    if batch:
        apply()
    for where, reason in sorted(errors):
        click.echo(f"{file}:{where}: {reason}", err=True)
    summary = (f"{total.imported} new, {total.updated} moved, {total.cancelled} cancelled, "
               f"{total.unchanged} unchanged, {len(errors)} refused")
    log_.record(operator(), audit.APPOINTMENTS_IMPORT, detail=f"{file.name}: {summary}")
    click.echo(f"imported {total.imported} new appointment(s), {total.updated} moved, {total.cancelled} cancelled, "
               f"{total.unchanged} already known, {len(errors)} bad row(s)")
    if errors:
        sys.exit(1)


@followups.command("status")
def followups_status() -> None:
    """Appointments by follow-up status and outcome, and the do-not-call list's size."""
    from collections import Counter

    from ivr.store.followups import FollowupStore

    store = FollowupStore(connect_redis())
    statuses: Counter = Counter()
    outcomes: Counter = Counter()
    for rec in store.iter_all():
        statuses[rec.status] += 1
        if rec.outcome:
            outcomes[rec.outcome] += 1
    click.echo(f"appointments: {store.count()}")
    for name, count in sorted(statuses.items()):
        click.echo(f"  {name:<12} {count}")
    if outcomes:
        click.echo("outcomes:")
        for name, count in sorted(outcomes.items()):
            click.echo(f"  {name:<14} {count}")
    reasons = Counter(rec.blocked_reason for rec in store.iter_all() if rec.status == "blocked")
    if reasons:
        click.echo("blocked until fixed (they resume by themselves):")
        for reason, count in reasons.most_common():
            click.echo(f"  {count} x {reason}")
    click.echo(f"do not call: {store.do_not_call_count()} number(s)")


@followups.command("api-key")
@click.argument("name")
@click.option("--scope", default="", metavar="SCOPE",
              help="Whose appointments the key sees and changes (default: NAME). Give another key's "
                   "scope to let several keys of one system share their appointments.")
def followups_api_key(name: str, scope: str) -> None:
    """Create an API key NAME for the scheduling system (/api/appointments); shown once.

    The key reads, moves and cancels only the appointments sent under its scope (others' are 404).
    Refused if NAME has an active key: `ivr followups rotate-key NAME` replaces it (same scope)."""
    from ivr.store import audit
    from ivr.store.api_keys import ApiKeyError, ApiKeyExists, ApiKeyStore

    conn = connect_redis()
    try:
        record, key = ApiKeyStore(conn).create(name, operator(), scope=scope)
    except ApiKeyExists as exc:
        click.echo(f"refused: {exc} (ivr followups rotate-key {exc.name} / ivr followups revoke-key ID)", err=True)
        sys.exit(1)
    except ApiKeyError as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    audit.AuditLog(conn).record(operator(), audit.API_KEY_ADD, target=record.target,
                                detail=f"name {record.name}, scope {record.scope}")
    click.echo(key)
    click.echo(f"API key {record.name!r} (id {record.id}, scope {record.scope!r}) created; it is shown only now "
               "(only its hash is stored).", err=True)


@followups.command("api-keys")
def followups_api_keys() -> None:
    """Every API key: id, name, scope, status, created (by whom), last used, uses. Never the keys themselves."""
    from ivr.store.api_keys import ApiKeyStore, when

    rows = ApiKeyStore(connect_redis()).list()
    if not rows:
        click.echo("no API keys yet: make one with `ivr followups api-key NAME`")
        return

    def at(epoch: float | None) -> str:
        moment = when(epoch)
        return moment.strftime("%Y-%m-%d %H:%MZ") if moment else "-"

    click.echo(f"{'ID':<16} {'NAME':<20} {'SCOPE':<20} {'STATUS':<9} {'CREATED':<18} {'BY':<20} {'LAST USED':<18} "
               f"{'USES':>6}  REVOKED")
    for k in rows:
        status = k.status()
        revoked = f"{at(k.revoked_at)} by {k.revoked_by or '-'}" if k.revoked_at else ""
        if k.replaced_by:
            revoked += f" (replaced by {k.replaced_by})"
        click.echo(f"{k.id:<16} {k.name:<20} {k.scope:<20} {status:<9} {at(k.created_at):<18} {k.created_by or '-':<20} "
                   f"{at(k.last_used_at):<18} {k.uses:>6}  {revoked}".rstrip())


@followups.command("revoke-key")
@click.argument("key")
def followups_revoke_key(key: str) -> None:
    """Stop the API key with id KEY (or every active key named KEY) working, at once."""
    from ivr.store import audit
    from ivr.store.api_keys import ApiKeyStore

    conn = connect_redis()
    store = ApiKeyStore(conn)
    found = store.lookup(key)
    if not found:
        click.echo(f"no API key with id {key!r} and no active key named so (see `ivr followups api-keys`)", err=True)
        sys.exit(1)
    for k in found:
        if not k.active():
            click.echo(f"{k.id} ({k.name}) was already revoked")
            continue
        store.revoke(k.id, operator())
        audit.AuditLog(conn).record(operator(), audit.API_KEY_REVOKE, target=k.target, detail=f"name {k.name}")
        click.echo(f"revoked {k.id} ({k.name}): requests with it now get 401")


@followups.command("rotate-key")
@click.argument("name")
@click.option("--grace", type=click.IntRange(0, 7 * 24 * 60), default=0, show_default=True,
              help="Minutes the old key keeps working (0: it stops at once).")
def followups_rotate_key(name: str, grace: int) -> None:
    """A new API key for NAME (a name or a key id), shown once, with the old key's scope; the old key is revoked."""
    from ivr.store import audit
    from ivr.store.api_keys import ApiKeyError, ApiKeyStore

    conn = connect_redis()
    store = ApiKeyStore(conn)
    found = store.lookup(name)
    if not found or not found[0].active():
        click.echo(f"refused: no active API key {name!r} to rotate (see `ivr followups api-keys`)", err=True)
        sys.exit(1)
    try:
        record, key, old = store.rotate(found[0].name, operator(), grace=grace * 60)
    except ApiKeyError as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    log = audit.AuditLog(conn)
    log.record(operator(), audit.API_KEY_ADD, target=record.target, detail=f"name {record.name}, by rotation")
    for k in old:
        log.record(operator(), audit.API_KEY_ROTATE, target=k.target,
                   detail=f"name {k.name}, replaced by {record.id}, works {grace} more minute(s)")
    click.echo(key)
    ended = "stop working now" if not grace else f"keep working for {grace} minute(s)"
    click.echo(f"API key {record.name!r} rotated: new id {record.id} shown only now; "
               f"old {', '.join(k.id for k in old)} {ended}.", err=True)


@followups.command("do-not-call")
@click.argument("phone")
def followups_do_not_call(phone: str) -> None:
    """Put PHONE on the follow-up do-not-call list."""
    from ivr.followups.appointments import AppointmentError, parse_phone
    from ivr.store import audit
    from ivr.store.followups import FollowupStore, patient_key

    clinic = clinic_or_exit()
    try:
        number = parse_phone(phone, clinic.country)
    except AppointmentError as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    conn = connect_redis()
    FollowupStore(conn).opt_out(number, source="cli")
    audit.AuditLog(conn).record(operator(), audit.DO_NOT_CALL, target=f"patient:{patient_key(number)[:16]}")
    click.echo("on the do-not-call list")


