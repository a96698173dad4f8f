"""The recordings versioned with a flow, as its prompt texts are: which ones its draft changes, which ones a
rollback brings back, and how two versions differ in them (the files: ``clinic_file``; the store:
``FlowStore.draft_recordings`` and ``kept_recordings``)."""

from __future__ import annotations

from ivr import services

from .clinic_file import live_recordings


def recording_changes(name: str) -> dict[str, dict[str, str]]:
    """The draft's recordings that differ from the live ones (language -> id -> kept file)."""
    runtime = services.get().runtime
    drafted = services.get().flow_versions.draft_recordings(name)
    if not drafted:
        return {}
    live = live_recordings(runtime.prompts_dir, {lang: runtime.prompts.audio.get(lang, {}) for lang in drafted})
    out: dict[str, dict[str, str]] = {}
    for lang, kept in drafted.items():
        for pid, file in kept.items():
            if live.get(lang, {}).get(pid) != file:
                out.setdefault(lang, {})[pid] = file
    return out


def recordings_to_restore(name: str, n: int, used: set[str]) -> dict[str, dict[str, str | None]]:
    """The recordings of the prompts version ``n`` plays, as they were when it was live (None: it had none)."""
    kept = services.get().flow_versions.kept_recordings(name, n)
    if kept is None:  # published before recordings were kept with versions
        return {}
    runtime = services.get().runtime
    live = live_recordings(runtime.prompts_dir, runtime.prompts.audio)
    out: dict[str, dict[str, str | None]] = {}
    for lang in set(kept) | set(live):
        for pid in used:
            then, now = kept.get(lang, {}).get(pid), live.get(lang, {}).get(pid)
            if then != now:
                out.setdefault(lang, {})[pid] = then
    return out


def recording_diff(before: dict | None, after: dict | None) -> list[str]:
    """The recordings two versions differ in, in words (none if either was published before they were kept)."""
    if before is None or after is None:
        return []
    out = []
    for lang in sorted(set(before) | set(after)):
        old_l, new_l = before.get(lang, {}), after.get(lang, {})
        for pid in sorted(set(old_l) | set(new_l)):
            old, new = old_l.get(pid), new_l.get(pid)
            if old != new:
                what = "recorded" if old is None else "no recording: the text is spoken" if new is None else "a new recording"
                out.append(f"Recording of {pid} ({lang}): {what}")
    return out
