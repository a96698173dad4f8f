"""The flows a process serves.

An invalid file never goes live: the registry keeps serving the last valid
version of that flow and remembers the problems so health checks can show them.
Every version loaded stays available by its hash, so a call in progress
finishes on the version it started with.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .model import Flow
from .validate import Environment, FlowInvalid, Issue, load_flow

log = logging.getLogger(__name__)


@dataclass
class CheckReport:
    """Result of checking every flow file in a folder."""

    flows: dict[str, Flow] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues


def check_folder(folder: Path, env: Environment) -> CheckReport:
    """Validate every ``*.yaml`` flow in ``folder``; collect all issues."""
    report = CheckReport()
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not files:
        report.issues.append(Issue(str(folder), None, None, "no flow files (*.yaml) found"))
    for path in files:
        report_file(path, env, report)
    return report


def report_file(path: Path, env: Environment, report: CheckReport) -> None:
    try:
        flow = load_flow(path.read_text(encoding="utf-8"), str(path), env)
    except FlowInvalid as exc:
        report.issues.extend(exc.issues)
        return
    except (OSError, UnicodeDecodeError) as exc:
        report.issues.append(Issue(str(path), None, None, f"cannot read: {exc}"))
        return
    if flow.name in report.flows:
        other = report.flows[flow.name].source
        report.issues.append(Issue(str(path), 1, None, f"flow name {flow.name!r} is also used by {other}"))
        return
    report.flows[flow.name] = flow


class FlowRegistry:
    """The live version of each flow, and every version seen, by hash."""

    def __init__(self) -> None:
        self._live: dict[str, Flow] = {}
        self._versions: dict[str, Flow] = {}
        self.issues: list[Issue] = []
        # Finds a version this process never loaded (e.g. in Redis): (name, version) -> Flow or None.
        self.fetch: Callable[[str, str], Flow | None] | None = None

    def set_live(self, flow: Flow) -> None:
        """Make one flow version live (versions published elsewhere, e.g. from the admin pages)."""
        if flow.name not in self._live or self._live[flow.name].version != flow.version:
            log.info("flow %s version %s is live", flow.name, flow.version)
        self._live[flow.name] = flow
        self._versions[flow.version] = flow

    def publish(self, report: CheckReport) -> None:
        """Make the valid flows of a report live; flows with issues keep their last version."""
        for name, flow in report.flows.items():
            if name not in self._live or self._live[name].version != flow.version:
                log.info("flow %s version %s is live", name, flow.version)
            self._live[name] = flow
            self._versions[flow.version] = flow
        for issue in report.issues:
            log.error("flow not published: %s", issue)
        self.issues = list(report.issues)

    def live(self, name: str) -> Flow:
        """The live version. Raises KeyError if no valid version was ever loaded."""
        return self._live[name]

    def version(self, name: str, version: str) -> Flow:
        """A specific version (for calls in progress), else the live one."""
        flow = self._versions.get(version)
        if flow is None and self.fetch is not None and version:
            try:
                flow = self.fetch(name, version)
            except Exception:  # noqa: BLE001 - an unreachable store must not end the call
                log.exception("flow %s version %s could not be fetched; the live version continues", name, version)
                flow = None
            if flow is not None:
                self._versions[flow.version] = flow
        if flow is not None and flow.name == name:
            return flow
        return self._live[name]

    @property
    def names(self) -> list[str]:
        return sorted(self._live)
