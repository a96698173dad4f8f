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
from typing import TYPE_CHECKING, Callable

from ivr.clinic.settings import ClinicConfigError, ClinicSettings, load_clinic
from ivr.clinic.hours import Schedule
from ivr.flows import CheckReport, Context, Environment, Flow, FlowInvalid, FlowRegistry, check_folder, load_flow
from ivr.clinic.prompts import FOLLOWUP_VALUES, PromptCatalog, PromptError, load_prompts

if TYPE_CHECKING:
    from ivr.store.flows import FlowStore

log = logging.getLogger(__name__)

RENDERED = 512  # TwiML answers kept per settings version (ivr.clinic.runtime.Runtime.render)


def environment(clinic: ClinicSettings, prompts: PromptCatalog) -> Environment:
    """What flows may refer to: prompts (and the placeholders they say), desks, departments and voices."""
    return Environment(
        prompts=prompts.ids(),
        desks=clinic.desk_numbers(),
        departments=frozenset(clinic.desks),
        languages=frozenset(clinic.languages),
        placeholders=prompts.placeholders(),
        flow_values={clinic.followups.flow: FOLLOWUP_VALUES},
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
        self.store: FlowStore | None = None  # set by attach(): flow versions in Redis
        self._generation: int | None = None
        self._settings_generation: int | None = None  # ivr:settings:generation when the files were last read
        self._checked: dict[str, Flow] = {}  # flows loaded from Redis against the current settings
        self.settings_error = ""  # why the latest edit of clinic settings or prompts is not live ("" if it is)
        clinic, prompts, report = check_all(self.config_dir, self.prompts_dir)
        self._apply(clinic, prompts)
        self._report = report
        self.flows.publish(report)
        self._stamp = self._fingerprint()

    def _apply(self, clinic: ClinicSettings, prompts: PromptCatalog) -> None:
        self.clinic: ClinicSettings = clinic
        self.prompts: PromptCatalog = prompts
        self._rendered: dict = {}  # TwiML by (reply, seq, audio base) [and minute, if it says the hours]
        self._schedule = clinic.schedule()
        self._desks = clinic.desk_numbers()
        self._languages = frozenset(clinic.languages)  # a returning caller is told in their callback's language

    def render(self, reply, seq: int, audio_base: str, now: dt.datetime | None = None) -> str:
        """The TwiML of an engine reply in a call at ``now``. Replies repeat (every new call hears the
        same greeting), so the last RENDERED of them are kept until settings or prompts change. Those
        that say the hours ({hours_today}, {next_open}) are kept for the minute they were made in:
        the spoken hours are exact to the minute."""
        from ivr.voice.twiml import Renderer

        now = now or dt.datetime.now(dt.timezone.utc)
        key = (reply, seq, audio_base)
        minute = int(now.timestamp() // 60)
        try:
            return self._rendered.get((key, minute)) or self._rendered[key]
        except KeyError:
            cacheable = True
        except TypeError:  # a reply carrying something unhashable: render it every time
            cacheable = False
        renderer = Renderer(self.clinic, self.prompts, audio_base, now=now, schedule=self._schedule)
        body = renderer.render(reply, seq)
        if cacheable:
            if len(self._rendered) >= RENDERED:
                self._rendered.clear()
            self._rendered[(key, minute) if renderer.timed else key] = body
        return body

    @property
    def schedule(self) -> Schedule:
        """The clinic's hours and holidays, as the live settings say."""
        return self._schedule

    def context(self, now: dt.datetime, **ports) -> Context:
        """The engine's view of the world at ``now``; ``ports`` answer queue questions."""
        return Context(
            now=now,
            schedule=self._schedule,
            desks=self._desks,
            region=self.clinic.country,
            callback_regions=frozenset(self.clinic.callbacks.call_back_countries or [self.clinic.country]),
            long_wait_seconds=self.clinic.callbacks.offer_when_wait_over_minutes * 60,
            languages=self._languages,
            desk_schedules=self.clinic.desk_schedules,  # desks that keep their own hours
            **ports,
        )

    # Flow versions in Redis ------------------------------------------------

    def attach(self, store: FlowStore) -> None:
        """Serve the flows published in Redis (admin pages) instead of the files alone.

        Files stay the seed: a file whose content was never published from it
        is published (if valid) as a version by "file:config/flows/x.yaml".
        If Redis cannot be reached the files keep serving and the next
        refresh tries again.
        """
        self.store = store
        self.flows.fetch = self._fetch_version
        self._sync_store(force=True)

    def sync_flows(self) -> None:
        """Load the live flow versions from Redis now (after a publish in this process)."""
        with self._lock:
            self._sync_store()

    def environment(self, prompts: PromptCatalog | None = None) -> Environment:
        """What flows may refer to now (with ``prompts``: a draft's prompts instead of the live ones)."""
        return environment(self.clinic, prompts or self.prompts)

    def _source(self, flow: Flow) -> str:
        return f"{self.config_dir.name}/flows/{Path(flow.source).name}"

    def _sync_store(self, force: bool = False) -> None:
        """Publish new file contents, then load the live versions if anything was published."""
        import redis

        if self.store is None:
            return
        try:
            if force:
                for flow in self._report.flows.values():
                    self.store.publish_file(flow.name, flow.text, self._source(flow))
            generation, settings = self.store.generations()
            if self._settings_generation is None:
                self._settings_generation = settings
            elif settings != self._settings_generation:  # prompts or clinic.yaml written by another process
                self._settings_generation = settings
                self._stamp = self._fingerprint()
                self.reload()
                return
            if generation == self._generation and not force:
                return
            self._load_live(self.store.live())
            self._generation = generation
        except (redis.RedisError, OSError) as exc:
            log.warning("flow versions in Redis unreachable, flows from files keep serving: %s", exc)
            self._generation = None

    def _load_live(self, live: dict[str, str]) -> None:
        env = self.environment()
        for name, version in live.items():
            try:
                current = self.flows.live(name)
            except KeyError:
                current = None
            if current is not None and current.version == version and current.source.startswith("redis:") and current is self._checked.get(name):
                continue
            text = self.store.text(version) if self.store else None
            if text is None:
                log.error("flow %s version %s has no text in Redis; the current version keeps serving", name, version)
                continue
            try:
                flow = load_flow(text, f"redis:{name}@{version}", env)
            except FlowInvalid as exc:
                log.error("flow %s version %s does not validate with the current settings, not live: %s", name, version, exc)
                continue
            self._checked[name] = flow
            self.flows.set_live(flow)

    def _fetch_version(self, name: str, version: str) -> Flow | None:
        """A published version this process never loaded (a call that started elsewhere)."""
        text = self.store.text(version) if self.store else None
        if text is None:
            return None
        try:
            return load_flow(text, f"redis:{name}@{version}", self.environment())
        except FlowInvalid:
            log.error("flow %s version %s no longer validates; the call continues on the live version", name, version)
            return None

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

    def files_changed(self) -> bool:
        """Whether a file under config/ or prompts/ changed since this process last read them."""
        return self._fingerprint() != self._stamp

    def refresh(self, force: bool = False) -> None:
        """Reload if any file changed (checked at most every ``interval`` seconds; now, with ``force``)."""
        now = self._clock()
        if not force and now - self._checked_at < self._interval:
            return
        with self._lock:
            if not force and now - self._checked_at < self._interval:
                return
            self._checked_at = now
            stamp = self._fingerprint()
            if stamp == self._stamp:
                self._sync_store()
                return
            self._stamp = stamp
            self.reload()

    def reload(self) -> None:
        try:
            clinic, prompts, report = check_all(self.config_dir, self.prompts_dir)
        except (ClinicConfigError, PromptError) as exc:
            log.error("settings change not applied, previous settings keep serving: %s", exc)
            self.settings_error = str(exc)
            return
        self.settings_error = ""
        self._apply(clinic, prompts)
        self._report = report
        self._checked = {}  # settings or prompts may have changed: check the live versions again
        if self.store is None:
            self.flows.publish(report)
            return
        self.flows.issues = list(report.issues)
        for issue in report.issues:
            log.error("flow not published: %s", issue)
        self._sync_store(force=True)
        if self._generation is None:  # Redis unreachable: the files serve
            self.flows.publish(report)
