"""What a callback is: its record, statuses and outcomes, the errors the queue raises, the answers it gives
(``Placed``, ``InLine``), the one estimate of a wait and the retry policy. The queue itself is
``ivr.store.callbacks.CallbackQueue``; its Lua scripts are ``ivr.store.callback_scripts``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Sequence

from ivr.clinic.calling_hours import CallingHours

from . import records

if TYPE_CHECKING:  # pragma: no cover
    from ivr.clinic.settings import ClinicSettings

URGENT_SHIFT = 1e10  # subtracted from an urgent callback's place: ahead of every non-urgent one
DEFAULT_HANDLING_SECONDS = 300  # assumed time per callback before a department has any history


class CallbackError(Exception):
    """A callback operation that cannot be done."""


class UnknownCallback(CallbackError):
    """No callback with this id (never existed, or finished long ago)."""


class NotClaimed(CallbackError):
    """The staff member does not hold this callback's claim."""


class LeaseExpired(NotClaimed):
    """The claim ran out; the callback is (or is about to be) back in its queue."""


class Outcome(StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    LEFT_MESSAGE = "left_message"
    WRONG_NUMBER = "wrong_number"


class Status(StrEnum):
    WAITING = "waiting"
    CLAIMED = "claimed"
    SCHEDULED = "scheduled"
    DONE = "done"
    CLOSED = "closed"


OPEN_STATUSES = (Status.WAITING, Status.CLAIMED, Status.SCHEDULED)


@dataclass
class Callback:
    """One patient's request to be called back; ``requested_at`` is their place in line."""

    id: str
    department: str
    phone: str
    lang: str
    requested_at: float
    caller_id: str = ""
    call_sid: str = ""
    source: str = "call"  # call | voicemail | followup
    urgent: bool = False
    urgent_reason: str = ""
    reason_recording_sid: str = ""
    reason_recording_url: str = ""
    reason_transcript: str = ""
    status: Status = Status.WAITING
    claimed_by: str = ""
    claimed_at: float = 0
    lease_until: float = 0
    attempts: int = 0
    not_before: float = 0
    outcome: str = ""
    note: str = ""
    finished_at: float = 0
    escalated_from: str = ""  # the desk whose tries did not reach an urgent callback (now on call's)

    def masked_phone(self) -> str:
        """The number with all but its last four digits hidden, e.g. "(•••) •••-4567"."""
        digits = "".join(c for c in self.phone if c.isdigit())
        if not self.phone.startswith("+"):
            return "no caller ID"
        if len(digits) < 4:
            return "•••"
        if self.phone.startswith("+1") and len(digits) == 11:
            return f"(•••) •••-{digits[-4:]}"
        return f"+•• ••• {digits[-4:]}"

    @property
    def place(self) -> float:
        """Score in its department's queue: urgent first, then oldest."""
        return place_of(self.requested_at, self.urgent)

    def to_fields(self) -> dict[str, str]:
        """The hash to store: empty text fields are left out (they read back as "")."""
        out = {f.name: records.encode(getattr(self, f.name)) for f in fields(self)}
        out["place"] = repr(self.place)
        return {k: v for k, v in out.items() if v != "" or k in _ALWAYS}

    @classmethod
    def from_fields(cls, raw: dict[Any, Any]) -> "Callback":
        return cls(**records.decode(cls, raw))


_ALWAYS = frozenset({"id", "department", "phone", "lang", "status", "claimed_by"})


@dataclass(frozen=True)
class Placed:
    """The answer to a request: the callback, whether it is new, and its place (1 = next)."""

    callback: Callback
    created: bool
    position: int


@dataclass(frozen=True)
class InLine:
    """A caller's open callback, as the phone tells them on arrival (``CallbackQueue.open_for``)."""

    id: str
    department: str
    phone: str
    lang: str
    status: Status
    position: int  # 1 = next (or being called now)
    wait_seconds: int  # ``estimate_seconds`` at that position: what the offer would say there


def estimate_seconds(position: int, durations: Sequence[Any], staff: int) -> int:
    """Seconds until a patient at ``position`` has been called: ``position * mean handling / staff``.

    The one estimate of a wait: the callback offer, the confirmation, a returning caller and the
    console's "a new caller would wait" all come from it (``CallbackQueue.estimated_wait_seconds``).
    ``durations``: recent claim->finish seconds (DEFAULT_HANDLING_SECONDS when none); ``staff``: those
    working the queue (at least 1).
    """
    handled = [float(d) for d in durations]
    mean = sum(handled) / len(handled) if handled else DEFAULT_HANDLING_SECONDS
    return int(round(max(position, 0) * mean / max(int(staff), 1)))


@dataclass(frozen=True)
class RetryPolicy:
    """No answer: call again after ``spacing_seconds`` (within ``hours``), ``attempts`` calls in all.

    An urgent callback is never closed for want of an answer: it is tried again ``urgent_spacing_seconds``
    later whatever the hour (the patient asked to be called about something urgent), and after
    ``urgent_tries_before_on_call`` unanswered tries it moves to the ``on_call`` desk's queue.
    ``urgent_spacing_seconds`` 0: urgent ones are retried like routine ones.
    """

    attempts: int
    spacing_seconds: int
    hours: CallingHours
    urgent_spacing_seconds: int = 0
    urgent_tries_before_on_call: int = 0
    on_call: str = ""

    @classmethod
    def for_clinic(cls, clinic: "ClinicSettings") -> "RetryPolicy":
        cb = clinic.callbacks
        return cls(cb.retry_attempts, cb.retry_spacing_minutes * 60, CallingHours.for_clinic(clinic),
                   cb.urgent_retry_minutes * 60, cb.urgent_tries_before_on_call, cb.urgent_on_call_desk)


def place_of(requested_at: float, urgent: bool) -> float:
    return requested_at - URGENT_SHIFT if urgent else requested_at


def phone_digest(phone: str) -> str:
    """The history key's name part for a number (Lua computes the same with redis.sha1hex)."""
    return hashlib.sha1(phone.encode()).hexdigest()


class HoldsTooMany(Exception):
    """A claim refused: the staff member already holds as many callbacks as she may."""

    def __init__(self, staff: str, most: int) -> None:
        super().__init__(f"{staff} already holds {most} callback{'s' if most != 1 else ''}")
        self.staff, self.most = staff, most
