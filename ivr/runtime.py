"""What a web process serves from disk: clinic settings, prompts and flows.

They are loaded together at start (a broken clinic.yaml stops the start with a
clear error) and re-read when a file under config/ or prompts/ changes. A
change that does not validate never goes live: the last good settings and the
last valid version of each flow keep serving.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable

from ivr.clinic import ClinicConfigError, ClinicSettings, load_clinic
from ivr.flows import CheckReport, Context, Environment, FlowRegistry, check_folder
from ivr.prompts import PromptCatalog, PromptError, load_prompts

log = logging.getLogger(__name__)


def environment(clinic: ClinicSettings, prompts: PromptCatalog) -> Environment:
    """What flows may refer to: prompts, desks, departments and voices."""
    return Environment(
        prompts=prompts.ids(),
        desks=clinic.desk_numbers(),
        departments=frozenset(clinic.desks),
        languages=frozenset(clinic.languages),
    )


def check_all(config_dir: Path, prompts_dir: Path) -> tuple[ClinicSettings, PromptCatalog, CheckReport]:
    """Load clinic settings and prompts, and validate every flow against them."""
    clinic = load_clinic(config_dir / "clinic.yaml")
    prompts = load_prompts(prompts_dir)
    report = check_folder(config_dir / "flows", environment(clinic, prompts))
    return clinic, prompts, report


class Runtime:
    """Thread-safe holder of the live clinic, prompts and flows."""

    def __init__(
        self,
        config_dir: Path,
        prompts_dir: Path,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config_dir = Path(config_dir)
        self.prompts_dir = Path(prompts_dir)
        self.flows = FlowRegistry()
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._checked_at = clock()
        clinic, prompts, report = check_all(self.config_dir, self.prompts_dir)
        self._apply(clinic, prompts)
        self.flows.publish(report)
        self._stamp = self._fingerprint()

    def _apply(self, clinic: ClinicSettings, prompts: PromptCatalog) -> None:
        self.clinic: ClinicSettings = clinic
        self.prompts: PromptCatalog = prompts
        self._schedule = clinic.schedule()
        self._desks = clinic.desk_numbers()

    def context(self, now: dt.datetime, **ports) -> Context:
        """The engine's view of the world at ``now``; ``ports`` answer queue questions."""
        return Context(
            now=now,
            schedule=self._schedule,
            desks=self._desks,
            region=self.clinic.country,
            long_wait_seconds=self.clinic.callbacks.offer_when_wait_over_minutes * 60,
            **ports,
        )

    def _fingerprint(self) -> tuple:
        stamp = []
        for root in (self.config_dir, self.prompts_dir):
            for folder, _dirs, files in os.walk(root):
                for name in files:
                    try:
                        st = os.stat(os.path.join(folder, name))
                    except OSError:
                        continue
                    stamp.append((folder, name, st.st_mtime_ns, st.st_size))
        return tuple(sorted(stamp))

    def refresh(self) -> None:
        """Reload if any file changed (checked at most every ``interval`` seconds)."""
        now = self._clock()
        if now - self._checked_at < self._interval:
            return
        with self._lock:
            if now - self._checked_at < self._interval:
                return
            self._checked_at = now
            stamp = self._fingerprint()
            if stamp == self._stamp:
                return
            self._stamp = stamp
            self.reload()

    def reload(self) -> None:
        try:
            clinic, prompts, report = check_all(self.config_dir, self.prompts_dir)
        except (ClinicConfigError, PromptError) as exc:
            log.error("settings change not applied, previous settings keep serving: %s", exc)
            return
        self._apply(clinic, prompts)
        self.flows.publish(report)
