"""API keys for the scheduling system (ivr.followups.api): create, look up, list, rotate, revoke.

A key is ``fuk_<id>_<secret>``. Only sha256(key) is stored, with a record per key id:

    id            8 hex characters, also visible in the key itself (not a secret)
    name          what it is for ("scheduler"); one active key per name
    created_at    epoch seconds (empty for keys made before key records existed)
    created_by    who made it: a staff user name or cli:<login>
    last_used_at  epoch seconds of the last request it authenticated; uses: how many
    revoked_at    epoch seconds from when it no longer works (empty: active); revoked_by, replaced_by
    scope         whose appointments it may see and change (ivr.store.appointment_scopes); empty: its name.
                  Keys of one system share a scope (``create(..., scope=S)``); a rotation keeps it.

Making a key under a name that has an active key is refused (``ApiKeyExists``): a
second key must be an explicit ``rotate`` (new key, the old ones revoked at once or
after a grace period) so an old key is never left valid by accident. A revoked key is
kept (its hash, its history) so its use is recognised and refused.

Keys made before these records (``ivr:fu:apikeys``: sha256 -> name) keep working: each
becomes a record (id = the first 8 hex of its hash) the first time it is used or the
keys are listed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import time
from dataclasses import dataclass

import redis

from . import keys

PREFIX = "fuk_"
MAX_KEY = 200
NAME = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,47}")
MAX_GRACE = 7 * 24 * 3600  # seconds an old key may keep working after a rotation
REFUSAL_AUDIT_EVERY = 60  # seconds: at most one audit entry per revoked key presented


class ApiKeyError(ValueError):
    """A refused change: a bad name, an unknown key, an existing name."""


class ApiKeyExists(ApiKeyError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a key named {name!r} exists: rotate or revoke it")
        self.name = name


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    created_at: float | None
    created_by: str
    last_used_at: float | None
    uses: int
    revoked_at: float | None
    revoked_by: str
    replaced_by: str
    scope: str = ""  # whose appointments it may touch; "" is read as the key's name

    def __post_init__(self) -> None:
        if not self.scope:
            object.__setattr__(self, "scope", self.name)

    def active(self, now: float | None = None) -> bool:
        return self.revoked_at is None or self.revoked_at > (time.time() if now is None else now)

    def status(self, now: float | None = None) -> str:
        """``active``, ``expiring`` (rotated, still valid for a grace period) or ``revoked``."""
        if self.revoked_at is None:
            return "active"
        return "expiring" if self.active(now) else "revoked"

    @property
    def actor(self) -> str:
        """Who made a request with this key, for the audit log: api:<name>#<id>."""
        return f"api:{self.name[:50]}#{self.id}"

    @property
    def target(self) -> str:
        """The key's own audit history: apikey:<id>."""
        return f"apikey:{self.id}"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def when(epoch: float | None, zone: dt.tzinfo = dt.timezone.utc) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(epoch, zone) if epoch else None


def check_name(name: str, what: str = "a key name") -> str:
    name = (name or "").strip()
    if not NAME.fullmatch(name):
        raise ApiKeyError(f"{what} is 1-48 letters, digits, '.', '_' or '-', starting with a letter")
    return name


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _epoch(value) -> float | None:
    return float(value) if value not in (None, b"", "") else None


class ApiKeyStore:
    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn

    # Reading ------------------------------------------------------------------------------

    def get(self, key_id: str) -> ApiKey | None:
        raw = self.conn.hgetall(keys.FOLLOWUP_API_KEY.format(key_id)) if key_id else {}
        if not raw:
            return None
        f = {_text(k): _text(v) for k, v in raw.items()}
        return ApiKey(
            id=key_id, name=f.get("name", ""), created_at=_epoch(f.get("created_at")),
            created_by=f.get("created_by", ""), last_used_at=_epoch(f.get("last_used_at")),
            uses=int(f.get("uses") or 0), revoked_at=_epoch(f.get("revoked_at")),
            revoked_by=f.get("revoked_by", ""), replaced_by=f.get("replaced_by", ""),
            scope=f.get("scope", ""),
        )

    def find(self, key: str) -> ApiKey | None:
        """The record of ``key`` whether active or revoked; None for a key never issued."""
        if not key or len(key) > MAX_KEY:
            return None
        digest = key_hash(key)
        key_id = self.conn.hget(keys.FOLLOWUP_API_KEY_IDS, digest)
        if key_id is None:
            key_id = self._migrate(digest)
        return self.get(_text(key_id)) if key_id is not None else None

    def name_of(self, key: str) -> str | None:
        """The name of ``key`` if it is valid now, else None."""
        found = self.find(key)
        return found.name if found is not None and found.active() else None

    def list(self) -> list[ApiKey]:
        """Every key, active and revoked, oldest first."""
        for digest in self.conn.hkeys(keys.FOLLOWUP_API_KEYS):
            self._migrate(_text(digest))
        ids = [_text(i) for i in self.conn.zrange(keys.FOLLOWUP_API_KEY_LIST, 0, -1)]
        return [k for k in map(self.get, ids) if k is not None]

    def active_named(self, name: str, now: float | None = None) -> list[ApiKey]:
        return [k for k in self.list() if k.name == name and k.active(now)]

    def lookup(self, id_or_name: str) -> list[ApiKey]:
        """The key with this id, else the active keys with this name."""
        found = self.get(id_or_name) if re.fullmatch(r"[0-9a-f]{8,16}", id_or_name or "") else None
        return [found] if found is not None else self.active_named(id_or_name)

    # Changing -----------------------------------------------------------------------------

    def create(self, name: str, created_by: str = "", now: float | None = None,
               scope: str = "") -> tuple[ApiKey, str]:
        """A new key NAME: (its record, the key itself, to be shown once). Refused if NAME has an active key.

        ``scope``: whose appointments it may touch (another key's scope to share them); default NAME."""
        name = check_name(name)
        scope = check_name(scope, "a scope") if scope.strip() else name
        now = time.time() if now is None else now
        if self.active_named(name, now):
            raise ApiKeyExists(name)
        return self._issue(name, created_by, now, scope)

    def rotate(self, name: str, by: str = "", grace: float = 0, now: float | None = None) -> tuple[ApiKey, str, list[ApiKey]]:
        """A new key NAME; its active keys stop working after ``grace`` seconds (0: at once).

        Returns (the new record, the new key, the records of the keys it replaces)."""
        now = time.time() if now is None else now
        if not 0 <= grace <= MAX_GRACE:
            raise ApiKeyError(f"the grace period is 0-{MAX_GRACE} seconds")
        old = self.active_named(name, now)
        if not old:
            raise ApiKeyError(f"no active key named {name!r} to rotate")
        new, key = self._issue(name, by, now, old[0].scope)  # a name from before the naming rule is kept
        for k in old:
            until = min(now + grace, k.revoked_at) if k.revoked_at else now + grace
            self.conn.hset(keys.FOLLOWUP_API_KEY.format(k.id),
                           mapping={"revoked_at": until, "revoked_by": by, "replaced_by": new.id})
        return new, key, [self.get(k.id) for k in old]  # type: ignore[misc]

    def revoke(self, key_id: str, by: str = "", now: float | None = None) -> ApiKey:
        """Key ``key_id`` stops working now (a revoked key stays revoked; an expiring one ends now)."""
        now = time.time() if now is None else now
        found = self.get(key_id)
        if found is None:
            raise ApiKeyError(f"no key with id {key_id!r}")
        if found.active(now):
            self.conn.hset(keys.FOLLOWUP_API_KEY.format(key_id), mapping={"revoked_at": now, "revoked_by": by})
        return self.get(key_id)  # type: ignore[return-value]

    def record_use(self, key_id: str, now: float | None = None) -> None:
        with self.conn.pipeline(transaction=False) as p:
            p.hincrby(keys.FOLLOWUP_API_KEY.format(key_id), "uses", 1)
            p.hset(keys.FOLLOWUP_API_KEY.format(key_id), "last_used_at", time.time() if now is None else now)
            p.execute()

    def refusal_worth_auditing(self, key_id: str) -> bool:
        """True at most once a minute per revoked key presented (keeps a retrying client from flooding the log)."""
        return bool(self.conn.set(keys.FOLLOWUP_API_KEY_REFUSED.format(key_id), 1, nx=True, ex=REFUSAL_AUDIT_EVERY))

    # Internals ----------------------------------------------------------------------------

    def _issue(self, name: str, created_by: str, now: float, scope: str = "") -> tuple[ApiKey, str]:
        while True:
            key_id = secrets.token_hex(4)
            if self.conn.hsetnx(keys.FOLLOWUP_API_KEY.format(key_id), "name", name):
                break
        key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        with self.conn.pipeline() as p:
            p.hset(keys.FOLLOWUP_API_KEY.format(key_id),
                   mapping={"created_at": now, "created_by": created_by, "uses": 0, "scope": scope or name})
            p.hset(keys.FOLLOWUP_API_KEY_IDS, key_hash(key), key_id)
            p.zadd(keys.FOLLOWUP_API_KEY_LIST, {key_id: now})
            p.execute()
        return self.get(key_id), key  # type: ignore[return-value]

    def _migrate(self, digest: str) -> str | None:
        """The id of a key stored the old way (sha256 -> name), now given a record; None if unknown."""
        with self.conn.pipeline() as p:
            while True:
                try:
                    p.watch(keys.FOLLOWUP_API_KEYS, keys.FOLLOWUP_API_KEY_IDS)
                    known = p.hget(keys.FOLLOWUP_API_KEY_IDS, digest)
                    if known is not None:
                        return _text(known)
                    name = p.hget(keys.FOLLOWUP_API_KEYS, digest)
                    if name is None:
                        return None
                    key_id = next(digest[:n] for n in range(8, 65, 4)
                                  if not p.exists(keys.FOLLOWUP_API_KEY.format(digest[:n])))
                    p.multi()
                    p.hset(keys.FOLLOWUP_API_KEY.format(key_id), mapping={
                        "name": _text(name), "created_at": "", "created_by": "(before key records)", "uses": 0})
                    p.hset(keys.FOLLOWUP_API_KEY_IDS, digest, key_id)
                    p.zadd(keys.FOLLOWUP_API_KEY_LIST, {key_id: 0})
                    p.hdel(keys.FOLLOWUP_API_KEYS, digest)
                    p.execute()
                    return key_id
                except redis.WatchError:
                    continue
