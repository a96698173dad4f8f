"""`ivr flows check`: validate flows against the clinic's settings and prompts."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ivr.cli.common import read_settings


@click.group()
def flows() -> None:
    """Phone menu flows."""


@flows.command("check")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--config-dir", type=click.Path(file_okay=False, path_type=Path), help="Default: IVR_CONFIG_DIR or ./config.")
@click.option("--prompts-dir", type=click.Path(file_okay=False, path_type=Path), help="Default: IVR_PROMPTS_DIR or ./prompts.")
def flows_check(files: tuple[Path, ...], config_dir: Path | None, prompts_dir: Path | None) -> None:
    """Validate flows (all in config/flows, or FILES) against clinic settings and prompts."""
    from ivr.clinic.settings import ClinicConfigError, load_clinic
    from ivr.flows import CheckReport, check_folder
    from ivr.flows.registry import report_file
    from ivr.clinic.prompts import PromptError, load_prompts
    from ivr.clinic.runtime import environment

    settings = read_settings()
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
