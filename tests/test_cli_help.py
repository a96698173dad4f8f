"""`ivr --help` and every command's help read as they did before the CLI became the ivr/cli/ package (issue 34):
tests/data/cli_help/ holds what the single ivr/cli.py printed (commit 1d4265f's parent), written by
scripts/cli_help_snapshot.py. A help changed on purpose is written again from today's code with that script."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAVED = ROOT / "tests" / "data" / "cli_help"

_spec = importlib.util.spec_from_file_location("cli_help_snapshot", ROOT / "scripts" / "cli_help_snapshot.py")
snapshot = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(snapshot)

TODAY = snapshot.help_texts(main)


def test_the_same_commands_exist_as_before():
    saved = sorted(p.name for p in SAVED.glob("*.txt"))
    today = sorted(snapshot.file_name(command) for command in TODAY)
    assert today == saved, (
        f"commands gone: {sorted(set(saved) - set(today))}; commands new: {sorted(set(today) - set(saved))}"
    )


@pytest.mark.parametrize("command", sorted(TODAY))
def test_help_reads_as_before(command):
    saved = SAVED / snapshot.file_name(command)
    if not saved.exists():
        pytest.fail(f"`{command}` has no saved help (a command that did not exist before)")
    assert TODAY[command] == saved.read_text()


def test_the_installed_ivr_command_prints_the_same_help_in_any_wide_terminal():
    """The entry point itself, run as a shell runs it: the saved text is what a terminal of 80 columns or more shows."""
    ivr = Path(sys.executable).parent / "ivr"
    for columns, command in (("80", "ivr"), ("200", "ivr followups api-key")):
        shown = subprocess.run(
            [str(ivr), *command.split()[1:], "--help"], capture_output=True, text=True, check=True,
            env={**os.environ, "COLUMNS": columns},
        ).stdout
        assert shown == (SAVED / snapshot.file_name(command)).read_text(), (command, columns)
