"""The `ivr` command: serve, worker, flows check, call, users, transcribe, models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ivr import config as config_module
from ivr import logging_setup
from ivr import web_server
from ivr.clinic import ROLES


def _settings() -> dict:
    """The settings the CLI needs, from the same sources as the app."""
    settings = {k: getattr(config_module.Defaults, k) for k in dir(config_module.Defaults) if k.isupper()}
    config_module.load_environment(settings)
    for key, value in os.environ.items():
        if key.startswith("IVR_") and value:
            settings[key[4:]] = value
    return settings


@click.group()
def main() -> None:
    """Clinic phone system."""
    from ivr.private_files import restrict_umask

    restrict_umask()  # recordings, keys, Redis files: this user's only, whatever the shell's umask


# ivr flows ---------------------------------------------------------------


@main.group()
def flows() -> None:
    """Phone menu flows."""


@flows.command("check")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--config-dir", type=click.Path(file_okay=False, path_type=Path), help="Default: IVR_CONFIG_DIR or ./config.")
@click.option("--prompts-dir", type=click.Path(file_okay=False, path_type=Path), help="Default: IVR_PROMPTS_DIR or ./prompts.")
def flows_check(files: tuple[Path, ...], config_dir: Path | None, prompts_dir: Path | None) -> None:
    """Validate flows (all in config/flows, or FILES) against clinic settings and prompts."""
    from ivr.clinic import ClinicConfigError, load_clinic
    from ivr.flows import CheckReport, check_folder
    from ivr.flows.registry import report_file
    from ivr.prompts import PromptError, load_prompts
    from ivr.runtime import environment

    settings = _settings()
    config_dir = config_dir or Path(settings["CONFIG_DIR"])
    prompts_dir = prompts_dir or Path(settings["PROMPTS_DIR"])
    try:
        clinic = load_clinic(config_dir / "clinic.yaml")
        prompts = load_prompts(prompts_dir)
    except (ClinicConfigError, PromptError) as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    env = environment(clinic, prompts)
    if files:
        report = CheckReport()
        for path in files:
            report_file(path, env, report)
    else:
        report = check_folder(config_dir / "flows", env)
    for flow in report.flows.values():
        click.echo(f"ok: {flow.source}: flow '{flow.name}' ({len(flow.nodes)} nodes, {', '.join(flow.languages)})")
    for issue in report.issues:
        click.echo(f"error: {issue}", err=True)
    for lang, ids in prompts.missing_translations().items():
        click.echo(f"note: prompts missing in {lang}: {', '.join(ids)}", err=True)
    if not report.ok:
        click.echo(f"{len(report.issues)} problem(s); invalid flows are not published.", err=True)
        sys.exit(1)


# ivr users -----------------------------------------------------------------


def _redis():
    """The Redis the app uses (REDIS_URL, else the embedded server's socket), or exit 1."""
    import redis

    from ivr.store import connect

    conn = connect(config_module.redis_url(_settings()), timeout=5)
    try:
        conn.ping()
    except redis.RedisError as exc:
        click.echo(f"cannot reach Redis ({exc.__class__.__name__}): start `ivr serve` first (or set REDIS_URL)", err=True)
        sys.exit(1)
    return conn


def _operator() -> str:
    """Who ran the command, for the audit log: cli:<login name>."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return "cli"


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


@main.group()
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
    conn = _redis()
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
    audit.AuditLog(conn).record(_operator(), audit.USER_ADD, target=user.name, detail=f"role {user.role}")
    click.echo(f"added {user.name} ({user.role})")


@users.command("list")
def users_list() -> None:
    """Every user: name, role, status, display name, phone (masked), created."""
    from ivr.logging_setup import mask_number
    from ivr.store.users import UserStore

    rows = UserStore(_redis()).list()
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

    conn = _redis()
    try:
        ended = UserStore(conn).disable(name)
    except UnknownUser:
        click.echo(f"no user named {name!r}", err=True)
        sys.exit(1)
    audit.AuditLog(conn).record(_operator(), audit.USER_DISABLE, target=name, detail=_sessions_ended(ended))
    click.echo(f"disabled {name} ({_sessions_ended(ended)})")


@users.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin instead of prompting.")
def users_password(name: str, password_stdin: bool) -> None:
    """Set a new password for NAME (asks twice); their open sessions end at once."""
    from ivr.staff.passwords import hash_password
    from ivr.store import audit
    from ivr.store.users import AUDIT_PASSWORD, UnknownUser, UserStore

    conn = _redis()
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
    audit.AuditLog(conn).record(_operator(), AUDIT_PASSWORD, target=name, detail=_sessions_ended(ended))
    click.echo(f"new password for {name} ({_sessions_ended(ended)})")


# ivr data-key, ivr voicemails ---------------------------------------------


@main.command("data-key")
def data_key() -> None:
    """Print a new key for IVR_DATA_KEY (encrypts recordings and transcripts at rest)."""
    from ivr.sealing import new_key

    click.echo(new_key())
    click.echo(
        "Keep it in a secret store and set IVR_DATA_KEY for every web and worker process. To rotate, "
        "put the new key first: IVR_DATA_KEY=new,old (old data still opens; new data uses the new key).",
        err=True,
    )


@main.group()
def voicemails() -> None:
    """Voicemails and their transcription (no patient data is printed)."""


@voicemails.command("list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="How many, newest first.")
def voicemails_list(limit: int) -> None:
    """The latest voicemails: sid, when (clinic time), department, status, and why a failure happened."""
    import datetime as dt

    from ivr.store.voicemails import VoicemailStore

    zone = _clinic_or_exit().zone
    for vm in VoicemailStore(_redis()).recent(limit):
        when = dt.datetime.fromtimestamp(vm.received_at, zone).strftime("%Y-%m-%d %H:%M %Z")
        flag = " URGENT" if vm.urgent else ""
        detail = f" ({vm.detail})" if vm.detail else ""
        click.echo(f"{vm.recording_sid}  {when}  {vm.department or '-':<14} {vm.status_text}{flag}{detail}")


@voicemails.command("retry")
@click.argument("recording_sid")
def voicemails_retry(recording_sid: str) -> None:
    """Run the pipeline again for a voicemail whose failure is final (e.g. after fixing credentials)."""
    from rq import Queue

    from ivr.store.voicemails import FINAL, VoicemailStatus, VoicemailStore
    from ivr.workers import SPEECH_QUEUE
    from ivr.workers import voicemail as voicemail_jobs

    conn = _redis()
    store = VoicemailStore(conn)
    vm = store.get(recording_sid)
    if vm is None:
        click.echo(f"no voicemail {recording_sid}", err=True)
        sys.exit(1)
    attempts = _clinic_or_exit().voicemail.attempts
    if vm.status not in FINAL:
        click.echo(
            f"not retried: {recording_sid} has not failed (status: {vm.status_text}; run {vm.attempts} of "
            f"{attempts}). The workers are on it: a run that fails for a passing reason is run again, and a lost job is queued again.",
            err=True,
        )
        sys.exit(1)
    # Final failures another run may mend (credentials fixed, a speech model installed); not a message
    # already transcribed, nor one Twilio has no audio for.
    if vm.status in (VoicemailStatus.TRANSCRIBED, VoicemailStatus.NO_AUDIO):
        click.echo(f"not retried: {recording_sid} did not fail in a way another run can mend (status: {vm.status_text})", err=True)
        sys.exit(1)
    status = VoicemailStatus.STORED if vm.path else VoicemailStatus.RECEIVED
    store.update(recording_sid, status=status, attempts=0, detail="retried from the command line")
    voicemail_jobs.enqueue(Queue(SPEECH_QUEUE, connection=conn), recording_sid, attempts)
    click.echo(f"queued {recording_sid} again")
# ivr followups ---------------------------------------------------------------


@main.group()
def followups() -> None:
    """Follow-up calls after appointments."""


def _clinic_or_exit():
    from ivr.clinic import ClinicConfigError, load_clinic

    try:
        return load_clinic(Path(_settings()["CONFIG_DIR"]) / "clinic.yaml")
    except ClinicConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


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
    from ivr.workers.followups import Changes, apply_changes

    try:
        scope = check_name(scope, "a scope") if scope.strip() else ""
    except ApiKeyError as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    clinic = _clinic_or_exit()
    conn = _redis()
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
        done = apply_changes(queue, store, batch, clinic, now, actor=_operator(), audit=log_)
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
    log_.record(_operator(), audit.APPOINTMENTS_IMPORT, detail=f"{file.name}: {summary}")
    click.echo(f"imported {total.imported} new appointment(s), {total.updated} moved, {total.cancelled} cancelled, "
               f"{total.unchanged} already known, {len(errors)} bad row(s)")
    if errors:
        sys.exit(1)


@followups.command("status")
def followups_status() -> None:
    """Appointments by follow-up status and outcome, and the do-not-call list's size."""
    from collections import Counter

    from ivr.store.followups import FollowupStore

    store = FollowupStore(_redis())
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

    conn = _redis()
    try:
        record, key = ApiKeyStore(conn).create(name, _operator(), scope=scope)
    except ApiKeyExists as exc:
        click.echo(f"refused: {exc} (ivr followups rotate-key {exc.name} / ivr followups revoke-key ID)", err=True)
        sys.exit(1)
    except ApiKeyError as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    audit.AuditLog(conn).record(_operator(), audit.API_KEY_ADD, target=record.target,
                                detail=f"name {record.name}, scope {record.scope}")
    click.echo(key)
    click.echo(f"API key {record.name!r} (id {record.id}, scope {record.scope!r}) created; it is shown only now "
               "(only its hash is stored).", err=True)


@followups.command("api-keys")
def followups_api_keys() -> None:
    """Every API key: id, name, scope, status, created (by whom), last used, uses. Never the keys themselves."""
    from ivr.store.api_keys import ApiKeyStore, when

    rows = ApiKeyStore(_redis()).list()
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

    conn = _redis()
    store = ApiKeyStore(conn)
    found = store.lookup(key)
    if not found:
        click.echo(f"no API key with id {key!r} and no active key named so (see `ivr followups api-keys`)", err=True)
        sys.exit(1)
    for k in found:
        if not k.active():
            click.echo(f"{k.id} ({k.name}) was already revoked")
            continue
        store.revoke(k.id, _operator())
        audit.AuditLog(conn).record(_operator(), audit.API_KEY_REVOKE, target=k.target, detail=f"name {k.name}")
        click.echo(f"revoked {k.id} ({k.name}): requests with it now get 401")


@followups.command("rotate-key")
@click.argument("name")
@click.option("--grace", type=click.IntRange(0, 7 * 24 * 60), default=0, show_default=True,
              help="Minutes the old key keeps working (0: it stops at once).")
def followups_rotate_key(name: str, grace: int) -> None:
    """A new API key for NAME (a name or a key id), shown once, with the old key's scope; the old key is revoked."""
    from ivr.store import audit
    from ivr.store.api_keys import ApiKeyError, ApiKeyStore

    conn = _redis()
    store = ApiKeyStore(conn)
    found = store.lookup(name)
    if not found or not found[0].active():
        click.echo(f"refused: no active API key {name!r} to rotate (see `ivr followups api-keys`)", err=True)
        sys.exit(1)
    try:
        record, key, old = store.rotate(found[0].name, _operator(), grace=grace * 60)
    except ApiKeyError as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    log = audit.AuditLog(conn)
    log.record(_operator(), audit.API_KEY_ADD, target=record.target, detail=f"name {record.name}, by rotation")
    for k in old:
        log.record(_operator(), audit.API_KEY_ROTATE, target=k.target,
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

    clinic = _clinic_or_exit()
    try:
        number = parse_phone(phone, clinic.country)
    except AppointmentError as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    conn = _redis()
    FollowupStore(conn).opt_out(number, source="cli")
    audit.AuditLog(conn).record(_operator(), audit.DO_NOT_CALL, target=f"patient:{patient_key(number)[:16]}")
    click.echo("on the do-not-call list")


# ivr worker ----------------------------------------------------------------


@main.command()
@click.option("--burst", is_flag=True, help="Work until the queues are empty, then exit.")
@click.option("--scheduler/--no-scheduler", default=True, help="Also run RQ's scheduler (jobs enqueued for later).")
@click.option("--speech", is_flag=True, help="Work the voicemail queue: load the speech models once, transcribe one message at a time.")
def worker(burst: bool, scheduler: bool, speech: bool) -> None:
    """Run an RQ worker on the clinic's queues (IVR_REDIS_SENTINELS, REDIS_URL, or the embedded server)."""
    from ivr.workers.runner import run

    logging_setup.configure(_settings()["LOG_LEVEL"])
    run(burst=burst, with_scheduler=scheduler, speech=speech)


# ivr serve -----------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for all).")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--web-workers", default=4, show_default=True, type=int, help="Web server processes.")
@click.option("--connections", default=web_server.CONNECTIONS, show_default=True, type=click.IntRange(10, 100000),
              help="Connections each web server process holds at once (gevent: slow clients cost no thread).")
@click.option("--workers", "rq_workers", default=1, show_default=True, type=int, help="RQ worker processes.")
@click.option("--speech-workers", default=1, show_default=True, type=click.IntRange(1, 16),
              help="Voicemail transcription processes (each holds the speech models: 465-680 MB).")
def serve(host: str, port: int, web_workers: int, connections: int, rq_workers: int, speech_workers: int) -> None:
    """Run everything on this machine: Redis (embedded unless REDIS_URL or IVR_REDIS_SENTINELS is set), web, workers."""
    from ivr.clinic import ClinicConfigError
    from ivr.prompts import PromptError
    from ivr.redis_server import EmbeddedRedis, RedisStartError
    from ivr.runtime import check_all

    settings = _settings()
    logging_setup.configure(settings["LOG_LEVEL"])
    try:
        _clinic, _prompts, report = check_all(Path(settings["CONFIG_DIR"]), Path(settings["PROMPTS_DIR"]))
    except (ClinicConfigError, PromptError) as exc:
        click.echo(f"cannot start:\n{exc}", err=True)
        sys.exit(1)
    for issue in report.issues:
        click.echo(f"error: {issue} (this flow is not published)", err=True)
    if not report.flows:
        click.echo("cannot start: no valid flow", err=True)
        sys.exit(1)

    from ivr.private_files import make_private, private_folder

    data_dir = private_folder(Path(settings["DATA_DIR"]).resolve())
    if make_private(data_dir):
        click.echo(f"made {data_dir} readable by this user only (folders 0700, files 0600)", err=True)
    env = dict(os.environ, IVR_DATA_DIR=str(data_dir))
    embedded = None
    try:
        sentinels = config_module.redis_sentinels(settings)
    except ValueError as exc:
        click.echo(f"cannot start: {exc}", err=True)
        sys.exit(1)
    if not settings.get("REDIS_URL") and not sentinels:
        try:
            embedded = EmbeddedRedis(data_dir / "redis").start()
        except RedisStartError as exc:
            click.echo(f"cannot start Redis: {exc}", err=True)
            sys.exit(1)
        env["REDIS_URL"] = embedded.url
    config_module.auth_token({**settings, "DATA_DIR": str(data_dir)})  # create the local token once
    config_module.secret_key({**settings, "DATA_DIR": str(data_dir)})  # and the session key, before the web workers

    commands = {
        "web": web_server.gunicorn_command(f"{host}:{port}", web_workers, connections=connections),
        **{f"worker-{i + 1}": [sys.executable, "-m", "ivr.cli", "worker"] for i in range(rq_workers)},
        **{f"speech-{i + 1}": [sys.executable, "-m", "ivr.cli", "worker", "--speech"] for i in range(speech_workers)},
    }
    from ivr.supervisor import Supervisor

    supervisor = Supervisor(commands, env, embedded)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    click.echo(
        f"Clinic phone system running. Voice webhook: {url}/voice/incoming  Health: {url}/healthz\n"
        f"Staff console: {url}/console (add staff with `ivr users add NAME --role ROLE`)\n"
        f"Try a call from another terminal: .venv/bin/ivr call --url {url}\n"
        f"Redis: {'embedded, data in ' + str(data_dir / 'redis') if embedded else 'Sentinels (IVR_REDIS_SENTINELS)' if sentinels else 'REDIS_URL'}. "
        "Ctrl-C stops everything."
    )
    try:
        supervisor.run()
    finally:
        if embedded:
            embedded.stop()


# ivr call ----------------------------------------------------------------

HELP = "Type keys (1, 2, *, #), or words to speak, Enter for silence, 'hangup' to hang up."


@main.command()
@click.option("--url", default="http://127.0.0.1:5000", show_default=True, help="Where the app listens.")
@click.option("--from", "caller", default="+12025550123", show_default=True, help="The caller's number.")
@click.option("--to", "called", default="+12025550199", show_default=True, help="The clinic number called.")
@click.option("--token", envvar="TWILIO_AUTH_TOKEN", help="Auth token to sign with (default: TWILIO_AUTH_TOKEN, else the local one).")
def call(url: str, caller: str, called: str, token: str | None) -> None:
    """A phone in the terminal: call the app as Twilio does and hear what a caller hears."""
    from click.core import ParameterSource

    from ivr.simulator import CallError, PhoneCall, requests_transport

    if not token:
        data_dir = _settings()["DATA_DIR"]
        signed_with = f"the local token in {Path(data_dir) / 'local-twilio-token'}"
        token = config_module.local_auth_token(data_dir)
    elif click.get_current_context().get_parameter_source("token") is ParameterSource.ENVIRONMENT:
        signed_with = "TWILIO_AUTH_TOKEN from this shell"
    else:
        signed_with = "the token given with --token"
    phone = PhoneCall(requests_transport(), url, token, caller=caller, called=called)
    # A server without a Twilio account takes a message left here from the data folder (ivr.simulator).
    local_data = _settings()["DATA_DIR"] if signed_with.startswith("the local token") else None
    interactive = sys.stdin.isatty()
    click.echo(f"Calling {url} from {caller}. {HELP}")
    try:
        turn = phone.start()
        while True:
            _show(turn)
            if turn.waiting == "ended":
                click.echo("[the call has ended]")
                phone.hang_up()
                return
            answer = _ask(_question(turn), interactive)
            if answer is None or answer.strip().lower() in ("hangup", "hang up", "q", "quit"):
                click.echo("[you hung up]")
                phone.hang_up()
                return
            turn = _act(phone, turn, answer.strip(), local_data)
    except CallError as exc:
        click.echo(f"[call failed: {exc}]", err=True)
        if exc.status == 403:
            click.echo(
                f"The app refused the signature (signed with {signed_with}). Sign with the app's "
                "TWILIO_AUTH_TOKEN: `ivr call --token TOKEN`, or set TWILIO_AUTH_TOKEN in this shell. An app "
                "without it uses the local token in its data folder: run `ivr call` with the same IVR_DATA_DIR. "
                "An app with IVR_PUBLIC_URL checks signatures against that address: call it with --url.",
                err=True,
            )
        sys.exit(2)
    except OSError as exc:
        click.echo(f"[cannot reach {url}: {exc}] Is `ivr serve` running?", err=True)
        sys.exit(2)


def _leave_message(phone, words: str, data_dir: str):
    """Speak the typed message (espeak-ng, in the call's language) and leave it as the recording."""
    from ivr.simulator import CannotSpeak, new_sid, save_local_recording, speak

    lang = (phone.language or "en")[:2]
    try:
        audio = speak(words, lang)
    except CannotSpeak as exc:
        click.echo(f"  [{exc}: the message is left without sound]", err=True)
        return phone.record(seconds=max(2, len(words.split()) // 2))
    sid = new_sid("RE")
    save_local_recording(data_dir, sid, audio)
    seconds = max(1, round((len(audio) - 44) / 16000))
    click.echo(f"  [your message, spoken by espeak-ng ({lang}): {seconds} s; the console shows it once transcribed]")
    return phone.record(seconds=seconds, sid=sid)


def _show(turn) -> None:
    for heard in turn.heard:
        if heard.kind == "say":
            click.echo(f"  clinic ({heard.language or '?'}): {heard.text}")
        elif heard.kind == "play":
            click.echo(f"  clinic plays: {heard.text}")
        elif heard.kind == "dial":
            click.echo(f"  [ringing {heard.text}]")
        elif heard.kind == "record":
            click.echo("  [beep: recording]")


def _question(turn) -> str:
    if turn.waiting == "dial":
        return "Does the desk answer? [a]nswer / [n]o answer / [b]usy"
    if turn.waiting == "record":
        return "Speak your message (type it; Enter for silence)"
    return "keys or words"


def _ask(question: str, interactive: bool) -> str | None:
    try:
        if interactive:
            return input(f"{question} > ")
        line = sys.stdin.readline()
        if not line:
            return None
        click.echo(f"{question} > {line.rstrip()}")
        return line.rstrip("\n")
    except EOFError:
        return None


def _act(phone, turn, answer: str, local_data: str | None = None):
    if turn.waiting == "dial":
        status = {"a": "completed", "b": "busy"}.get(answer[:1].lower(), "no-answer")
        return phone.dial_result(status, duration=60 if status == "completed" else 0)
    if turn.waiting == "record":
        if not answer:
            return phone.record_nothing()
        if local_data is not None:
            return _leave_message(phone, answer, local_data)
        return phone.record(seconds=max(2, len(answer.split()) // 2))
    if not answer:
        return phone.silence()
    if all(c in "0123456789*#" for c in answer):
        return phone.press(answer)
    return phone.say(answer)


# ivr transcribe / ivr models ----------------------------------------------


def _models_dir(models_dir: Path | None) -> Path:
    """--models-dir, else <IVR_DATA_DIR>/models (var/models)."""
    return models_dir or Path(_settings()["DATA_DIR"]) / "models"


def _speech_settings() -> tuple[tuple[str, ...], dict[str, str]]:
    """The clinic's languages and its ``voicemail.engines`` setting (defaults when clinic.yaml is unreadable)."""
    from ivr.clinic import ClinicConfigError, load_clinic

    try:
        clinic = load_clinic(Path(_settings()["CONFIG_DIR"]) / "clinic.yaml")
    except (ClinicConfigError, OSError):
        return ("en", "es"), {}
    return tuple(clinic.languages), dict(clinic.voicemail.engines)


def _urgent_phrases() -> dict[str, list[str]]:
    """The clinic's urgent phrases (the shipped ones when clinic.yaml is unreadable)."""
    from ivr.clinic import DEFAULT_URGENT_PHRASES, ClinicConfigError, load_clinic

    try:
        return load_clinic(Path(_settings()["CONFIG_DIR"]) / "clinic.yaml").voicemail.urgent_phrases
    except (ClinicConfigError, OSError):
        return DEFAULT_URGENT_PHRASES


MODELS_DIR_HELP = "Speech models folder (Vosk models per language, joined and added Whisper models). Default: IVR_DATA_DIR/models."


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--language", default="en", show_default=True, help="Language of the recordings (en, es, ...).")
@click.option("--engine", default="", help="Engine instead of the clinic's setting: whisper, whisper:base, whisper:FOLDER, vosk, pocketsphinx.")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list per file: text, words, confidence, seconds, engine, the engine's certainty per "
                   "segment, urgent (what was heard and the urgent phrase it was taken for) and unclear (true/false).")
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), help=MODELS_DIR_HELP)
def transcribe(files: tuple[Path, ...], language: str, engine: str, as_json: bool, models_dir: Path | None) -> None:
    """Transcribe recordings offline (nothing leaves this machine), with the clinic's urgent phrases and the clarity check."""
    import json

    from ivr.speech import AudioUnreadable, ModelFileError, TranscriberUnavailable, decode_audio, transcriber_for, unclear
    from ivr.urgency import UrgentPhrases, reason

    models_dir = _models_dir(models_dir)
    lang = language.lower().split("-")[0]
    spec = engine or _speech_settings()[1].get(lang, "")
    phrases = UrgentPhrases(_urgent_phrases())
    results, failed = [], 0
    for path in files:
        try:
            transcriber = transcriber_for(language, models_dir, spec)
            audio = decode_audio(path.read_bytes(), transcriber.sample_rate)
            transcript = transcriber.transcribe(audio)
        except (TranscriberUnavailable, ModelFileError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except (AudioUnreadable, OSError) as exc:
            failed += 1
            click.echo(f"error: {path}: {exc}", err=True)
            results.append({"file": str(path), "error": str(exc)})
            continue
        found = phrases.matches(transcript.text, lang)
        is_unclear = unclear(transcript, audio)
        results.append({"file": str(path), **transcript.as_dict(), "urgent": [m.as_dict() for m in found], "unclear": is_unclear})
        if not as_json:
            notes = [f"URGENT: {reason(found)}"] * bool(found) + ["UNCLEAR: listen to the recording"] * is_unclear
            click.echo(f"{path}: {transcript.text or '(no speech detected)'}" + "".join(f"\n  {n}" for n in notes))
    if as_json:
        click.echo(json.dumps(results, indent=2, ensure_ascii=False))
    if failed:
        sys.exit(1)


@main.command()
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), help=MODELS_DIR_HELP)
def models(models_dir: Path | None) -> None:
    """Which speech engine serves each language, where its files are, their check, and how to add a better one."""
    from ivr.speech import engines

    models_dir = _models_dir(models_dir)
    languages, specs = _speech_settings()
    failed = False
    for info in engines(models_dir, languages, specs):
        check = f" [{info.verified}]" if info.verified else ""
        click.echo(f"{info.language}: {info.engine} ({info.where}){check}")
        if info.sha256:
            click.echo(f"    model.bin sha256 {info.sha256}")
        failed = failed or info.verified == "FAILED"
        for part in info.install.split("; "):
            if part != "installed":
                click.echo(f"    {part}")
    if failed:
        sys.exit(1)


# ivr backup / ivr restore ----------------------------------------------------


def _backup_paths() -> tuple[dict, Path, Path, Path]:
    settings = _settings()
    return settings, Path(settings["DATA_DIR"]).resolve(), Path(settings["CONFIG_DIR"]), Path(settings["PROMPTS_DIR"])


@main.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--include-key", is_flag=True,
              help="Also write the data key into the backup (not advised: keep it in a secret store instead).")
def backup(dest: Path, include_key: bool) -> None:
    """Back up Redis (every ivr:* and rq:* key), the sealed recordings, config/ and prompts/ into a new folder DEST.

    The data key (IVR_DATA_KEY, or DATA_DIR/data-key) is left out unless --include-key: the
    recordings in a backup open only with it, so keep it in a secret store, apart from backups.
    """
    from ivr import backup as backups
    from ivr import recording_store
    from ivr.store import audit

    settings, data_dir, config_dir, prompts_dir = _backup_paths()
    conn = _redis()
    # Written first, so the backup holds the record of its own making (and a restore keeps it).
    audit.AuditLog(conn).record(_operator(), "backup", detail=f"to {dest.resolve()}"[:300])
    try:
        done = backups.backup(conn, dest, redis_url=config_module.redis_url(settings), data_dir=data_dir,
                              config_dir=config_dir, prompts_dir=prompts_dir,
                              data_key=str(settings.get("DATA_KEY") or ""), include_key=include_key,
                              objects=recording_store.from_config(settings))  # the recordings bucket, if any
    except (backups.BackupError, OSError, ValueError) as exc:
        click.echo(f"backup failed: {exc}", err=True)
        sys.exit(1)
    click.echo(f"backed up {done.keys} Redis keys ({done.redis_bytes} bytes) and {done.recordings} recordings "
               f"({done.recording_bytes} bytes) to {dest}")
    for note in done.notes:
        click.echo(f"note: {note}", err=True)
    if not include_key:
        click.echo("the data key is not in the backup: the recordings open only with IVR_DATA_KEY from your secret store",
                   err=True)


@main.command()
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the current data.")
@click.option("--config", "with_config", is_flag=True, help="Also copy config/ and prompts/ back.")
@click.option("--force", is_flag=True,
              help="Restore although the signature fails or this install's data key cannot open the backup's sealed "
                   "data (shown first). Paths outside the backup's folders are refused even so.")
def restore(src: Path, yes: bool, with_config: bool, force: bool) -> None:
    """Replace this install's Redis data (ivr:* and rq:* keys) and recordings with the backup in SRC.

    Stop the web processes and workers first. The backup's paths, files and signature (made with
    this install's data key) are checked, and what it holds is shown, before anything changes.
    """
    from ivr import backup as backups
    from ivr import backup_trust, recording_store
    from ivr.store import audit

    settings, data_dir, config_dir, prompts_dir = _backup_paths()
    data_key = str(settings.get("DATA_KEY") or "")
    conn = _redis()
    try:
        plan = backups.plan_restore(conn, src, data_key, data_dir)
    except (backups.BackupError, backup_trust.UntrustedBackup, OSError) as exc:
        click.echo(f"not restored: {exc}", err=True)
        sys.exit(1)
    m = plan.manifest
    click.echo(f"backup of {m.get('created_at')}: {plan.records} keys, {len(plan.files)} files "
               f"(Redis {m['redis'].get('version')})")
    click.echo("it holds " + ", ".join(f"{n} {label}" for label, n in plan.counts.items()))
    for label, names in (("users added", plan.users_added), ("users removed", plan.users_removed),
                         ("admins added", plan.admins_added), ("admins removed", plan.admins_removed)):
        click.echo(f"{label} (compared with this install): {', '.join(names) or 'none'}")
    refusals = plan.refusals()
    for reason in refusals:
        click.echo(f"{'warning' if force else 'not restored'}: {reason}", err=True)
    if refusals and not force:
        click.echo("restore only a backup you made: if you trust this one anyway, run again with --force", err=True)
        sys.exit(1)
    for warning in plan.warnings:
        click.echo(f"warning: {warning}", err=True)
    if not yes:
        click.confirm(f"Delete the {plan.current_keys} ivr:*/rq:* keys in this Redis and restore the backup's?", abort=True)
    try:
        done = backups.restore(conn, plan, data_dir=data_dir, config_dir=config_dir, prompts_dir=prompts_dir,
                               with_config=with_config, data_key=data_key,
                               progress=lambda msg: click.echo(msg, err=True),
                               objects=recording_store.from_config(settings))  # the recordings bucket, if any
    except (backups.BackupError, backup_trust.UntrustedBackup, OSError, ValueError) as exc:
        click.echo(f"restore failed: {exc}", err=True)
        sys.exit(1)
    forced = f"; --force past: {'; '.join(refusals)}" if refusals else ""
    audit.AuditLog(conn).record(_operator(), "restore",
                                detail=f"backup of {m.get('created_at')}: {done.keys} keys{forced}"[:300])
    click.echo(f"restored {done.keys} keys and {done.recordings} recordings "
               f"(replaced {done.deleted} keys; {done.skipped_expired} expired keys skipped"
               + (f"; {done.paths_rewritten} recording paths moved to {data_dir}" if done.paths_rewritten else "") + ")")
    for note in done.notes:
        click.echo(f"note: {note}", err=True)


if __name__ == "__main__":
    main()
