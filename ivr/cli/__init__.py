"""The `ivr` command, one module per command group:

    flows        ivr flows check
    users        ivr users add / list / disable / password
    voicemails   ivr voicemails list / retry
    followups    ivr followups import / status / api-key(s) / revoke-key / rotate-key / do-not-call
    speech       ivr transcribe, ivr models
    operations   ivr serve, ivr worker, ivr data-key, ivr backup, ivr restore
    call         ivr call (a phone in the terminal)

The supervisor `ivr serve` runs is ivr.operations.supervisor; what the commands share is ivr.cli.common.
"""

from __future__ import annotations

import click

from ivr.cli import call, flows, followups, operations, speech, users, voicemails


@click.group()
def main() -> None:
    """Clinic phone system."""
    from ivr.protection.private_files import restrict_umask

    restrict_umask()  # recordings, keys, Redis files: this user's only, whatever the shell's umask


for command in (
    flows.flows, users.users, voicemails.voicemails, followups.followups,
    speech.transcribe, speech.models,
    operations.serve, operations.worker, operations.data_key, operations.backup, operations.restore,
    call.call,
):
    main.add_command(command)
