"""`ivr voicemails`: list voicemails and run a failed one's pipeline again (no patient data printed)."""

from __future__ import annotations

import sys

import click

from ivr.cli.common import clinic_or_exit, connect_redis


@click.group()
def voicemails() -> None:
    """Voicemails and their transcription (no patient data is printed)."""


@voicemails.command("list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="How many, newest first.")
def voicemails_list(limit: int) -> None:
    """The latest voicemails: sid, when (clinic time), department, status, and why a failure happened."""
    import datetime as dt

    from ivr.store.voicemails import VoicemailStore

    zone = clinic_or_exit().zone
    for vm in VoicemailStore(connect_redis()).recent(limit):
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

    conn = connect_redis()
    store = VoicemailStore(conn)
    vm = store.get(recording_sid)
    if vm is None:
        click.echo(f"no voicemail {recording_sid}", err=True)
        sys.exit(1)
    attempts = clinic_or_exit().voicemail.attempts
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
