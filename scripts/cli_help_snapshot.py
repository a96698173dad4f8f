"""Write the help of `ivr` and of every command under it, one file per command, for tests/test_cli_help.py.

    .venv/bin/python scripts/cli_help_snapshot.py tests/data/cli_help            # today's commands
    .venv/bin/python scripts/cli_help_snapshot.py --source /tmp/oldcli OUT_DIR    # the ivr package of another checkout

A file is named for the command's words joined by dots: ``ivr.txt``, ``ivr.followups.api-key.txt``. The width is fixed
at what click prints on a terminal of 80 columns or more, so the text is the same on any machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.testing import CliRunner

WIDTH = 78  # click's own width on a terminal of 80 columns or wider (it keeps 2 free)


def command_paths(command: click.Command, path: tuple[str, ...] = ("ivr",)) -> list[tuple[str, ...]]:
    """The words of every command in the tree, the group itself first, groups' subcommands in name order."""
    found = [path]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            found += command_paths(command.commands[name], path + (name,))
    return found


def help_texts(main: click.Command) -> dict[str, str]:
    """``{"ivr followups status": "Usage: ivr followups status ..."}`` for every command, as `--help` prints it."""
    runner = CliRunner()
    texts = {}
    for path in command_paths(main):
        result = runner.invoke(
            main, [*path[1:], "--help"], prog_name="ivr", terminal_width=WIDTH, max_content_width=WIDTH,
        )
        if result.exit_code != 0:
            raise RuntimeError(f"{' '.join(path)} --help exited {result.exit_code}: {result.output}")
        texts[" ".join(path)] = result.output
    return texts


def file_name(command: str) -> str:
    return command.replace(" ", ".") + ".txt"


def write(texts: dict[str, str], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / file_name(name)).write_text(text)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--source"]:
        sys.path.insert(0, str(Path(args[1]).resolve()))
        args = args[2:]
    if len(args) != 1:
        sys.exit(__doc__)
    from ivr.cli import main

    write(help_texts(main), Path(args[0]))
    print(f"{len(command_paths(main))} help texts from {sys.modules['ivr.cli'].__file__} in {args[0]}")
