"""Staff accounts in Redis.

One hash per user, ``ivr:staff:user:{name}``:
    role           one of ivr.clinic.settings.ROLES
    phone          the staff member's own phone (+E.164) or empty
    display_name   how the console greets them (empty: the username)
    password_hash  an argon2 hash (never the password)
    disabled       "1" once disabled
    created_at     ISO 8601, UTC
and the set ``ivr:staff:users`` of every username (``list`` also finds a hash
missing from the set, so it lists everyone login would accept). Users are disabled, never
deleted, so the audit log always names someone who existed. Disabling a user
or setting a new password ends all their sessions (``ivr.store.sessions``) in
the same transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Callable

import redis

from ivr.clinic.settings import ROLES, e164

from . import keys
from .sessions import SessionStore

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
DISPLAY_NAME_MAX = 80


# Audit action for a password set from the command line (``ivr users password``).
AUDIT_PASSWORD = "user_password"


class UserError(ValueError):
    """A username, role, phone or display name is not acceptable."""


class UserExists(UserError):
    """``add`` of a name that is taken."""


class UnknownUser(UserError):
    """No user has that name."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    phone: str = ""
    display_name: str = ""
    password_hash: str = field(default="", repr=False)
    disabled: bool = False
    created_at: dt.datetime | None = None

    @property
    def label(self) -> str:
        """The name to show: the display name, else the username."""
        return self.display_name or self.name


def check_username(name: str) -> str:
    """``name`` if it is a valid username, else UserError."""
    if not isinstance(name, str) or not USERNAME.fullmatch(name):
        raise UserError(
            "a username is 1-32 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r} (one of: {', '.join(ROLES)})")
    return role


def check_phone(phone: str) -> str:
    """'' or the number in +E.164 form."""
    if not phone:
        return ""
    try:
        return e164(phone)
    except ValueError:
        raise UserError("the phone number must be a valid number in +E.164 form, e.g. +12025550123") from None


def check_display_name(display_name: str) -> str:
    display_name = " ".join(display_name.split())
    if len(display_name) > DISPLAY_NAME_MAX or not display_name.isprintable():
        raise UserError(f"a display name is at most {DISPLAY_NAME_MAX} printable characters")
    return display_name


_ADD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

_UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UserStore:
    """Add, find, list and change staff accounts."""

    def __init__(self, conn: redis.Redis, clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self.conn = conn
        self.clock = clock
        self._add = conn.register_script(_ADD)
        self._update = conn.register_script(_UPDATE)
        self._sessions = SessionStore(conn)

    def add(self, name: str, role: str, password_hash: str, phone: str = "", display_name: str = "") -> User:
        """Create a user; UserExists if the name is taken (checked atomically)."""
        if not password_hash:
            raise UserError("a user needs a password hash")
        user = User(
            name=check_username(name),
            role=check_role(role),
            phone=check_phone(phone),
            display_name=check_display_name(display_name),
            password_hash=password_hash,
            created_at=self.clock().astimezone(dt.timezone.utc).replace(microsecond=0),
        )
        fields = {
            "role": user.role,
            "phone": user.phone,
            "display_name": user.display_name,
            "password_hash": user.password_hash,
            "disabled": "0",
            "created_at": user.created_at.isoformat(),
        }
        args = [user.name, *(item for pair in fields.items() for item in pair)]
        if not self._add(keys=[keys.STAFF_USER.format(user.name), keys.STAFF_USERS], args=args):
            raise UserExists(f"a user named {user.name!r} already exists")
        return user

    def get(self, name: str) -> User | None:
        if not isinstance(name, str) or not USERNAME.fullmatch(name):
            return None
        return _user(name, self.conn.hgetall(keys.STAFF_USER.format(name)))

    def list(self) -> list[User]:
        """Every user who can log in (disabled ones too), by name: the user hashes login reads, found by SCAN as
        well as in the set of names (a restored backup or a hand-made key may have a hash the set lacks)."""
        prefix = keys.STAFF_USER.format("")
        found = {n.decode()[len(prefix):] for n in self.conn.scan_iter(match=prefix + "*", count=1000)}
        found.update(n.decode() for n in self.conn.smembers(keys.STAFF_USERS))
        names = sorted(n for n in found if USERNAME.fullmatch(n))
        pipe = self.conn.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(keys.STAFF_USER.format(name))
        users = (_user(name, raw) for name, raw in zip(names, pipe.execute()))
        return [u for u in users if u is not None]

    def set_password(self, name: str, password_hash: str) -> int:
        """A new password hash; every open session of the user ends with it. Returns how many ended."""
        if not password_hash:
            raise UserError("a user needs a password hash")
        return self._set(name, end_sessions=True, password_hash=password_hash)

    def set_phone(self, name: str, phone: str) -> None:
        self._set(name, phone=check_phone(phone))

    def disable(self, name: str) -> int:
        """The user can no longer log in, and every open session ends now. Returns how many ended."""
        return self._set(name, end_sessions=True, disabled="1")

    def _set(self, name: str, end_sessions: bool = False, **fields: str) -> int:
        """Change fields of an existing user (and end their sessions in the same transaction)."""
        args = [item for pair in fields.items() for item in pair]
        if not USERNAME.fullmatch(name):
            raise UnknownUser(f"no user named {name!r}")
        pipe = self.conn.pipeline(transaction=True)
        self._update(keys=[keys.STAFF_USER.format(name)], args=args, client=pipe)
        if end_sessions:
            self._sessions.end_all(name, pipeline=pipe)
        updated, *ended = pipe.execute()
        if not updated:
            raise UnknownUser(f"no user named {name!r}")
        return int(ended[0]) if ended else 0


def _user(name: str, raw: dict[bytes, bytes]) -> User | None:
    if not raw:
        return None
    f = {k.decode(): v.decode() for k, v in raw.items()}
    created = f.get("created_at")
    return User(
        name=name,
        role=f.get("role", ""),
        phone=f.get("phone", ""),
        display_name=f.get("display_name", ""),
        password_hash=f.get("password_hash", ""),
        disabled=f.get("disabled") == "1",
        created_at=dt.datetime.fromisoformat(created) if created else None,
    )
