"""Flow versions in Redis: every published version, the live pointer per flow, drafts.

A version is identified by its hash (the flow's ``version``: sha256 of the
YAML text, 12 hex digits) and its text is stored once under that hash, so a
call in progress can fetch the exact version it started on from any web
process. Each flow has a history list: one entry per publish (number, hash,
who, when, note), oldest first. History is never rewritten: a rollback
publishes an earlier text again as a new entry.

Every publish increments ``ivr:flows:generation``; web processes compare it
with the value they last loaded (at most every two seconds) and reload the
live pointers when it moved.

Validation is not done here (this module knows nothing about flows): callers
publish only text that ``ivr.flows.load_flow`` accepted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import redis

from . import keys

# KEYS: text, history, live, generation, files. ARGV: name, version, text, who, at, note, file_guard ("" = none).
# With a file guard (a file's content hash), publish only if that content was not published from the file before.
_PUBLISH = """
if ARGV[7] ~= '' then
  if redis.call('HGET', KEYS[5], ARGV[1]) == ARGV[7] then return 0 end
  redis.call('HSET', KEYS[5], ARGV[1], ARGV[7])
end
redis.call('SET', KEYS[1], ARGV[3])
local n = redis.call('LLEN', KEYS[2]) + 1
local entry = cjson.encode({n = n, version = ARGV[2], who = ARGV[4], at = tonumber(ARGV[5]), note = ARGV[6]})
redis.call('RPUSH', KEYS[2], entry)
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('INCR', KEYS[4])
return n
"""


def version_of(text: str) -> str:
    """The version hash of a flow text (the same as ``Flow.version``)."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Version:
    """One published version of a flow."""

    name: str
    n: int  # 1, 2, 3 ... in the order they were published
    version: str  # hash of the text
    who: str  # a staff username, or "file:config/flows/x.yaml"
    at: float  # seconds since the epoch
    note: str = ""

    @property
    def when(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.at, dt.timezone.utc)


@dataclass(frozen=True)
class Draft:
    name: str
    text: str
    who: str
    at: float
    issues: list[dict]  # [{line, node, message}] from the last check (empty: it validated)
    undo: str | None = None  # the text before the last edit (None: nothing to undo)


class FlowStore:
    """Published flow versions, live pointers and drafts."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn
        self._publish = conn.register_script(_PUBLISH)

    # Publishing -------------------------------------------------------------

    def publish(self, name: str, text: str, who: str, note: str = "", at: float | None = None) -> Version:
        """Make ``text`` (already validated) the live version of flow ``name``; a new history entry."""
        n = self._run_publish(name, text, who, note, at, guard="")
        return self.history_entry(name, n)  # type: ignore[return-value]

    def publish_file(self, name: str, text: str, source: str, at: float | None = None) -> Version | None:
        """Publish a flow file's content if that content was never published from the file before.

        Several web processes start at once: only one of them publishes it.
        Returns the new version, or None when the file's content is not new.
        """
        n = self._run_publish(name, text, f"file:{source}", "from the flow file", at, guard=version_of(text))
        return self.history_entry(name, n) if n else None

    def _run_publish(self, name: str, text: str, who: str, note: str, at: float | None, guard: str) -> int:
        version = version_of(text)
        at = dt.datetime.now(dt.timezone.utc).timestamp() if at is None else at
        return int(
            self._publish(
                keys=[keys.FLOW_TEXT.format(version), keys.FLOW_HISTORY.format(name), keys.FLOW_LIVE,
                      keys.FLOW_GENERATION, keys.FLOW_FILES],
                args=[name, version, text, who, f"{at:.3f}", note[:200], guard],
            )
        )

    # Reading ------------------------------------------------------------------

    def generation(self) -> int:
        return int(self.conn.get(keys.FLOW_GENERATION) or 0)

    def live(self) -> dict[str, str]:
        """Flow name -> live version hash."""
        return {k.decode(): v.decode() for k, v in self.conn.hgetall(keys.FLOW_LIVE).items()}

    def live_version(self, name: str) -> str | None:
        raw = self.conn.hget(keys.FLOW_LIVE, name)
        return raw.decode() if raw else None

    def text(self, version: str) -> str | None:
        """The YAML of a published version, by hash."""
        raw = self.conn.get(keys.FLOW_TEXT.format(version))
        return raw.decode() if raw is not None else None

    def history(self, name: str) -> list[Version]:
        """Every publish of a flow, newest first."""
        raw = self.conn.lrange(keys.FLOW_HISTORY.format(name), 0, -1)
        return [_version(name, r) for r in reversed(raw)]

    def history_entry(self, name: str, n: int) -> Version | None:
        if n < 1:
            return None
        raw = self.conn.lindex(keys.FLOW_HISTORY.format(name), n - 1)
        return _version(name, raw) if raw else None

    def names(self) -> list[str]:
        return sorted(self.live())

    # Drafts ---------------------------------------------------------------------

    def save_draft(self, name: str, text: str, who: str, issues: list[dict], undo: str | None = None) -> None:
        """Keep the draft's text. ``undo``: the text before this edit, which the editor's Undo gives back
        (once); without it there is nothing to undo (the last change was not an edit of the steps)."""
        at = dt.datetime.now(dt.timezone.utc).timestamp()
        key = keys.FLOW_DRAFT.format(name)
        pipe = self.conn.pipeline(transaction=True)
        pipe.hset(key, mapping={"text": text, "who": who, "at": f"{at:.3f}", "issues": json.dumps(issues)})
        if undo is not None and undo != text:
            pipe.hset(key, "undo", undo)
        else:
            pipe.hdel(key, "undo")
        pipe.execute()

    def draft(self, name: str) -> Draft | None:
        raw = self.conn.hgetall(keys.FLOW_DRAFT.format(name))
        if not raw:
            return None
        f = {k.decode(): v.decode() for k, v in raw.items()}
        return Draft(name, f.get("text", ""), f.get("who", ""), float(f.get("at") or 0), json.loads(f.get("issues") or "[]"),
                     f.get("undo"))

    def draft_names(self) -> list[str]:
        """Flows with a draft (a new flow made in the browser has nothing else until it is published)."""
        prefix = keys.FLOW_DRAFT.format("")
        return sorted(k.decode()[len(prefix):] for k in self.conn.scan_iter(match=keys.FLOW_DRAFT.format("*"), count=500))

    def discard_draft(self, name: str) -> None:
        """Drop the draft: its text and the prompt texts saved into it."""
        self.conn.delete(keys.FLOW_DRAFT.format(name), keys.FLOW_DRAFT_PROMPTS.format(name), keys.FLOW_DRAFT_SETTINGS.format(name),
                         keys.FLOW_DRAFT_NUMBERS.format(name))

    # Prompts versioned with a flow ----------------------------------------------

    def save_draft_prompt(self, name: str, lang: str, prompt_id: str, text: str) -> None:
        """Keep a prompt's new text in flow ``name``'s draft: callers hear it once that flow is published."""
        self.conn.hset(keys.FLOW_DRAFT_PROMPTS.format(name), f"{lang}:{prompt_id}", text)

    def draft_prompts(self, name: str) -> dict[str, dict[str, str]]:
        """Language -> prompt id -> text saved into flow ``name``'s draft."""
        out: dict[str, dict[str, str]] = {}
        for field, text in self.conn.hgetall(keys.FLOW_DRAFT_PROMPTS.format(name)).items():
            lang, _, prompt_id = field.decode().partition(":")
            out.setdefault(lang, {})[prompt_id] = text.decode()
        return out

    def drop_draft_prompt(self, name: str, lang: str, prompt_id: str) -> None:
        self.conn.hdel(keys.FLOW_DRAFT_PROMPTS.format(name), f"{lang}:{prompt_id}")

    def save_draft_hours(self, name: str, hours: dict) -> None:
        """Keep new weekly hours and holidays ({hours, holidays}) in flow ``name``'s draft: live when it is published."""
        self.conn.set(keys.FLOW_DRAFT_SETTINGS.format(name), json.dumps(hours, ensure_ascii=False, sort_keys=True))

    def draft_hours(self, name: str) -> dict | None:
        raw = self.conn.get(keys.FLOW_DRAFT_SETTINGS.format(name))
        return json.loads(raw) if raw else None

    def save_draft_numbers(self, name: str, numbers: dict) -> None:
        """Keep which flow answers which number ({default_flow, numbers}) in flow ``name``'s draft."""
        self.conn.set(keys.FLOW_DRAFT_NUMBERS.format(name), json.dumps(numbers, sort_keys=True))

    def draft_numbers(self, name: str) -> dict | None:
        raw = self.conn.get(keys.FLOW_DRAFT_NUMBERS.format(name))
        return json.loads(raw) if raw else None

    def save_draft_recording(self, name: str, lang: str, prompt_id: str, kept: str) -> None:
        """Keep a prompt's new recording (its kept file's name, ``clinic_file.keep_recording``) in flow
        ``name``'s draft, beside its text: callers hear it once that flow is published. The draft's hash
        holds it, so discarding the draft drops it."""
        self.conn.hset(keys.FLOW_DRAFT.format(name), f"recording:{lang}:{prompt_id}", kept)

    def draft_recordings(self, name: str) -> dict[str, dict[str, str]]:
        """Language -> prompt id -> kept recording saved into flow ``name``'s draft."""
        out: dict[str, dict[str, str]] = {}
        for field, kept in self.conn.hgetall(keys.FLOW_DRAFT.format(name)).items():
            kind, _, rest = field.decode().partition(":")
            if kind == "recording":
                lang, _, prompt_id = rest.partition(":")
                out.setdefault(lang, {})[prompt_id] = kept.decode()
        return out

    def keep_recordings(self, name: str, n: int, recordings: dict[str, dict[str, str]]) -> None:
        """The recordings live with version ``n`` (language -> prompt id -> kept file): a rollback restores them."""
        self.conn.hset(keys.FLOW_PROMPTS.format(name), f"{n}:recordings", json.dumps(recordings, sort_keys=True))

    def kept_recordings(self, name: str, n: int) -> dict[str, dict[str, str]] | None:
        raw = self.conn.hget(keys.FLOW_PROMPTS.format(name), f"{n}:recordings")
        return json.loads(raw) if raw else None

    def keep_prompts(self, name: str, n: int, texts: dict[str, dict[str, str]]) -> None:
        """The prompt texts live with version ``n`` of flow ``name`` (a rollback to it restores them)."""
        self.conn.hset(keys.FLOW_PROMPTS.format(name), str(n), json.dumps(texts, ensure_ascii=False, sort_keys=True))

    def kept_prompts(self, name: str, n: int) -> dict[str, dict[str, str]] | None:
        """The prompt texts that were live with version ``n`` (None: not known, e.g. published from a file)."""
        raw = self.conn.hget(keys.FLOW_PROMPTS.format(name), str(n))
        return json.loads(raw) if raw else None

    def keep_settings(self, name: str, n: int, settings: dict) -> None:
        """The hours, holidays and number assignment live with version ``n`` (its diff shows their changes)."""
        self.conn.hset(keys.FLOW_PROMPTS.format(name), f"{n}:settings", json.dumps(settings, ensure_ascii=False, sort_keys=True))

    def kept_settings(self, name: str, n: int) -> dict | None:
        raw = self.conn.hget(keys.FLOW_PROMPTS.format(name), f"{n}:settings")
        return json.loads(raw) if raw else None

    # Settings written by the admin pages ------------------------------------------

    def settings_changed(self) -> int:
        """Say to every web process that prompts or clinic settings on disk changed: reload them now."""
        return int(self.conn.incr(keys.SETTINGS_GENERATION))

    def generations(self) -> tuple[int, int]:
        """(flow publishes, settings writes) in one round trip."""
        flows, settings = self.conn.mget(keys.FLOW_GENERATION, keys.SETTINGS_GENERATION)
        return int(flows or 0), int(settings or 0)


def _version(name: str, raw: bytes) -> Version:
    d = json.loads(raw)
    return Version(name=name, n=int(d["n"]), version=str(d["version"]), who=str(d["who"]), at=float(d["at"]), note=str(d.get("note") or ""))
