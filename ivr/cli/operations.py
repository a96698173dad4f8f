"""Running the system: `ivr serve`, `ivr worker`, `ivr data-key`, `ivr backup`, `ivr restore`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ivr import config as config_module
from ivr.protection import logging_setup
from ivr.operations import web_server
from ivr.cli.common import connect_redis, operator, read_settings


@click.command()
@click.option("--burst", is_flag=True, help="Work until the queues are empty, then exit.")
@click.option("--scheduler/--no-scheduler", default=True, help="Also run RQ's scheduler (jobs enqueued for later).")
@click.option("--speech", is_flag=True, help="Work the voicemail queue: load the speech models once, transcribe one message at a time.")
def worker(burst: bool, scheduler: bool, speech: bool) -> None:
    """Run an RQ worker on the clinic's queues (IVR_REDIS_SENTINELS, REDIS_URL, or the embedded server)."""
    from ivr.workers.runner import run

    logging_setup.configure(read_settings()["LOG_LEVEL"])
    run(burst=burst, with_scheduler=scheduler, speech=speech)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for all).")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--web-workers", default=4, show_default=True, type=int, help="Web server processes.")
@click.option("--connections", default=web_server.CONNECTIONS, show_default=True, type=click.IntRange(10, 100000),
              help="Connections each web server process holds at once (gevent: slow clients cost no thread).")
@click.option("--workers", "rq_workers", default=1, show_default=True, type=int, help="RQ worker processes.")
@click.option("--speech-workers", default=1, show_default=True, type=click.IntRange(1, 16),
              help="Voicemail transcription processes (each holds the speech models: 465-680 MB).")
@click.option("--no-speech", is_flag=True,
              help="Run no speech worker here: another machine transcribes the voicemails.")
def serve(host: str, port: int, web_workers: int, connections: int, rq_workers: int, speech_workers: int,
          no_speech: bool) -> None:
    """Run everything on this machine: Redis (embedded unless REDIS_URL or IVR_REDIS_SENTINELS is set), web, workers."""
    from ivr.clinic.settings import ClinicConfigError
    from ivr.clinic.prompts import PromptError
    from ivr.operations.redis_server import EmbeddedRedis, RedisStartError
    from ivr.clinic.runtime import check_all

    settings = read_settings()
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

    from ivr.protection.private_files import make_private, private_folder

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
        **{f"speech-{i + 1}": [sys.executable, "-m", "ivr.cli", "worker", "--speech"] for i in range(0 if no_speech else speech_workers)},
    }
    from ivr.operations.supervisor import Supervisor

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


@click.command("data-key")
def data_key() -> None:
    """Print a new key for IVR_DATA_KEY (encrypts recordings and transcripts at rest)."""
    from ivr.protection.sealing import new_key

    click.echo(new_key())
    click.echo(
        "Keep it in a secret store and set IVR_DATA_KEY for every web and worker process. To rotate, "
        "put the new key first: IVR_DATA_KEY=new,old (old data still opens; new data uses the new key).",
        err=True,
    )


def _backup_paths() -> tuple[dict, Path, Path, Path]:
    settings = read_settings()
    return settings, Path(settings["DATA_DIR"]).resolve(), Path(settings["CONFIG_DIR"]), Path(settings["PROMPTS_DIR"])


@click.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--include-key", is_flag=True,
              help="Also write the data key into the backup (not advised: keep it in a secret store instead).")
def backup(dest: Path, include_key: bool) -> None:
    """Back up Redis (every ivr:* and rq:* key), the sealed recordings, config/ and prompts/ into a new folder DEST.

    The data key (IVR_DATA_KEY, or DATA_DIR/data-key) is left out unless --include-key: the
    recordings in a backup open only with it, so keep it in a secret store, apart from backups.
    """
    from ivr.operations import backup as backups
    from ivr.recordings import object_store
    from ivr.store import audit

    settings, data_dir, config_dir, prompts_dir = _backup_paths()
    conn = connect_redis()
    # Written first, so the backup holds the record of its own making (and a restore keeps it).
    audit.AuditLog(conn).record(operator(), "backup", detail=f"to {dest.resolve()}"[:300])
    try:
        done = backups.backup(conn, dest, redis_url=config_module.redis_url(settings), data_dir=data_dir,
                              config_dir=config_dir, prompts_dir=prompts_dir,
                              data_key=str(settings.get("DATA_KEY") or ""), include_key=include_key,
                              objects=object_store.from_config(settings))  # the recordings bucket, if any
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


@click.command()
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
    from ivr.operations import backup_trust
    from ivr.operations import restore as restoring
    from ivr.operations.backup import BackupError
    from ivr.recordings import object_store
    from ivr.store import audit

    settings, data_dir, config_dir, prompts_dir = _backup_paths()
    data_key = str(settings.get("DATA_KEY") or "")
    conn = connect_redis()
    try:
        plan = restoring.plan_restore(conn, src, data_key, data_dir)
    except (BackupError, backup_trust.UntrustedBackup, OSError) as exc:
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
        done = restoring.restore(conn, plan, data_dir=data_dir, config_dir=config_dir, prompts_dir=prompts_dir,
                                with_config=with_config, data_key=data_key,
                                progress=lambda msg: click.echo(msg, err=True),
                                objects=object_store.from_config(settings))  # the recordings bucket, if any
    except (BackupError, backup_trust.UntrustedBackup, OSError, ValueError) as exc:
        click.echo(f"restore failed: {exc}", err=True)
        sys.exit(1)
    forced = f"; --force past: {'; '.join(refusals)}" if refusals else ""
    audit.AuditLog(conn).record(operator(), "restore",
                                detail=f"backup of {m.get('created_at')}: {done.keys} keys{forced}"[:300])
    click.echo(f"restored {done.keys} keys and {done.recordings} recordings "
               f"(replaced {done.deleted} keys; {done.skipped_expired} expired keys skipped"
               + (f"; {done.paths_rewritten} recording paths moved to {data_dir}" if done.paths_rewritten else "") + ")")
    for note in done.notes:
        click.echo(f"note: {note}", err=True)
