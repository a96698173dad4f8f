"""The audit log: who did what to which record, and when.

Every entry goes to the stream ``ivr:audit`` and, with the same id, to
``ivr:audit:actor:{actor}`` and ``ivr:audit:target:{target}`` so one person's
or one record's history is read without scanning everything. An entry's id is
its time (Redis stream ids are milliseconds since the epoch, from the Redis
server's clock).

Retention: the app never trims or deletes these streams (no MAXLEN). They grow
by about 200 bytes per entry, three times over; keeping them is the clinic's
records policy (HIPAA asks for six years). Archive them with Redis's own tools
(persistence and backups of the data folder), and if entries must ever be
removed, remove all ``ivr:audit*`` keys together so ids stay in order.

Entries never hold a full phone number: targets are record ids (a phone
number is refused) and numbers in the free-text detail are masked to their
last four digits.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import redis

from ivr.protection.logging_setup import mask_numbers

from . import keys

# Actions are short verbs; these are the ones the console writes.
LOGIN = "login"
LOGIN_FAILED = "login_failed"
LOGIN_REFUSED = "login_refused"  # a login attempt over a rate limit: the password was not checked
LOGOUT = "logout"
DENIED = "denied"
VIEW_CONSOLE = "view_console"
VIEW_QUEUE = "view_queue"
VIEW_CALLBACK = "view_callback"
CLAIM = "claim"
OUTCOME = "outcome"
CALL_PATIENT = "call_patient"
RELEASE = "release"
PLAY_RECORDING = "play_recording"
USER_ADD = "user_add"
USER_DISABLE = "user_disable"
# Administration (ivr.admin)
VIEW_ADMIN = "view_admin"
VIEW_FLOW = "view_flow"
VIEW_FLOW_VERSION = "view_flow_version"
VIEW_FLOW_DIFF = "view_flow_diff"
FLOW_DRAFT = "flow_draft"
FLOW_PUBLISH = "flow_publish"
FLOW_PUBLISH_REFUSED = "flow_publish_refused"
FLOW_ROLLBACK = "flow_rollback"
FLOW_CREATE = "flow_create"  # a new flow (a draft) from a template or a copy
NUMBERS_EDIT = "numbers_edit"  # which flow answers which number (clinic.yaml default_flow, flows_by_number)
PROMPT_EDIT = "prompt_edit"
PROMPT_AUDIO = "prompt_audio"
PROMPT_AUDIO_REFUSED = "prompt_audio_refused"
HOURS_EDIT = "hours_edit"
DESK_ADD = "desk_add"  # a desk (clinic.yaml desks:) added in the browser
DESK_EDIT = "desk_edit"  # its name, number, roles or hours changed (the key stays)
DESK_REMOVE = "desk_remove"
DEPARTMENT_ADD = "department_add"  # the "add a department" wizard: desk, prompts and steps in a draft
HOLIDAYS_IMPORT = "holidays_import"
EMERGENCY_ON = "emergency_on"
EMERGENCY_OFF = "emergency_off"
DO_NOT_CALL = "do_not_call"  # a number put on the follow-up do-not-call list
API_KEY_ADD = "api_key_add"  # an API key for the scheduling system
API_KEY_ROTATE = "api_key_rotate"  # a new key under the same name; the old one revoked (target apikey:<old id>)
API_KEY_REVOKE = "api_key_revoke"  # an API key stops working (target apikey:<id>)
API_KEY_REFUSED = "api_key_refused"  # a revoked API key was presented (at most one a minute per key)
API_REQUEST = "api_request"  # one request with an API key (actor api:<name>#<id>, target apikey:<id>): method, path, status
VIEW_FOLLOWUPS = "view_followups"  # follow-up results page or export
VIEW_REPORTS = "view_reports"  # the reports page or one of its CSV tables
APPOINTMENTS_IMPORT = "appointments_import"  # appointments sent by the scheduling system (API, CSV): counts
APPOINTMENT_MOVE = "appointment_move"  # an appointment's time or number changed: its follow-up moved
APPOINTMENT_CANCEL = "appointment_cancel"  # an appointment cancelled: its follow-up too

_ACTION = re.compile(r"[a-z][a-z_]{0,31}")
# A target that is (or holds) a phone number: +E.164 anywhere, or a whole US-style number.
_PHONE = re.compile(r".*\+\d{7,}.*|1?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}")
MAX_ACTOR, MAX_TARGET, MAX_DETAIL = 64, 128, 500

# One entry, the same id in the main stream and both indexes.
_RECORD = """
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV))
for i = 2, #KEYS do redis.call('XADD', KEYS[i], id, unpack(ARGV)) end
return id
"""


@dataclass(frozen=True)
class AuditEntry:
    id: str
    at: dt.datetime
    actor: str
    action: str
    target: str
    detail: str


class AuditLog:
    """Append-only record of staff actions."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn
        self._record = conn.register_script(_RECORD)

    def record(
        self,
        actor: str,
        action: str,
        target: str = "",
        detail: str = "",
        pipeline: redis.client.Pipeline | None = None,
    ) -> str | None:
        """Append an entry; returns its id (None when queued on ``pipeline``)."""
        if not actor or len(actor) > MAX_ACTOR:
            raise ValueError(f"an audit actor is 1-{MAX_ACTOR} characters")
        if not _ACTION.fullmatch(action):
            raise ValueError(f"{action!r} is not an audit action (a short lowercase verb)")
        if len(target) > MAX_TARGET or _PHONE.fullmatch(target.strip()):
            raise ValueError("an audit target is a record id, never a phone number")
        detail = mask_numbers(detail)[:MAX_DETAIL]
        names = [keys.AUDIT, keys.AUDIT_BY_ACTOR.format(actor)]
        if target:
            names.append(keys.AUDIT_BY_TARGET.format(target))
        args = ["actor", actor, "action", action, "target", target, "detail", detail]
        result = self._record(keys=names, args=args, client=pipeline or self.conn)
        return None if pipeline is not None else result.decode()

    def recent(self, limit: int = 100) -> list[AuditEntry]:
        """The newest entries first."""
        return self._read(keys.AUDIT, limit)

    def for_actor(self, actor: str, limit: int = 100) -> list[AuditEntry]:
        """What one person (or ``cli``) did, newest first."""
        return self._read(keys.AUDIT_BY_ACTOR.format(actor), limit)

    def for_target(self, target: str, limit: int = 100) -> list[AuditEntry]:
        """Everything done to one record, newest first."""
        return self._read(keys.AUDIT_BY_TARGET.format(target), limit)

    def _read(self, key: str, limit: int) -> list[AuditEntry]:
        return [_entry(i, f) for i, f in self.conn.xrevrange(key, count=limit)]


def _entry(raw_id: bytes, raw: dict[bytes, bytes]) -> AuditEntry:
    entry_id = raw_id.decode()
    f = {k.decode(): v.decode() for k, v in raw.items()}
    millis = int(entry_id.split("-", 1)[0])
    return AuditEntry(
        id=entry_id,
        at=dt.datetime.fromtimestamp(millis / 1000, dt.timezone.utc),
        actor=f.get("actor", ""),
        action=f.get("action", ""),
        target=f.get("target", ""),
        detail=f.get("detail", ""),
    )
