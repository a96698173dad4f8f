"""Voicemail records: one per Twilio recording, from the status callback to the transcript.

The record is written once when Twilio reports the recording (a replayed
report finds it and changes nothing) and then moves through the pipeline in
ivr.workers.voicemail. Its transcript, word timings and urgent reason are kept
sealed (ivr.protection.sealing): Redis's append-only file on disk never holds them in
clear. The audio itself is in the vault (ivr.recordings.vault), encrypted too.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, Callable, Iterator

import redis

from . import durable, keys, records


class VoicemailStatus(StrEnum):
    RECEIVED = "received"
    STORED = "stored"
    TRANSCRIBED = "transcribed"
    NO_SPEECH = "no_speech"
    UNREADABLE = "unreadable"
    FAILED = "failed"
    FETCH_FAILED = "fetch_failed"
    NO_ENGINE = "no_engine"
    NO_AUDIO = "no_audio"


# What staff read in the console for each status.
STATUS_TEXT = {
    VoicemailStatus.RECEIVED: "waiting to be fetched and transcribed",
    VoicemailStatus.STORED: "audio stored, transcription under way",
    VoicemailStatus.TRANSCRIBED: "transcribed",
    VoicemailStatus.NO_SPEECH: "no speech detected",
    VoicemailStatus.UNREADABLE: "audio unreadable",
    VoicemailStatus.FAILED: "transcription failed, audio kept",
    VoicemailStatus.FETCH_FAILED: "could not fetch the recording from Twilio; it is kept there",
    VoicemailStatus.NO_ENGINE: "not transcribed: no speech model for this language; audio kept",
    VoicemailStatus.NO_AUDIO: "Twilio reported no audio for this message",
}

# Statuses the pipeline is finished with (a job that finds one does nothing more).
FINAL = frozenset(
    {
        VoicemailStatus.TRANSCRIBED,
        VoicemailStatus.NO_SPEECH,
        VoicemailStatus.UNREADABLE,
        VoicemailStatus.FAILED,
        VoicemailStatus.FETCH_FAILED,
        VoicemailStatus.NO_ENGINE,
        VoicemailStatus.NO_AUDIO,
    }
)


@dataclass
class Voicemail:
    recording_sid: str
    call_sid: str = ""
    caller: str = ""
    department: str = ""
    lang: str = ""
    purpose: str = "voicemail"  # voicemail | callback_reason
    duration: int = 0  # seconds, as Twilio reported
    received_at: float = 0.0
    status: VoicemailStatus = VoicemailStatus.RECEIVED
    detail: str = ""  # the reason behind a failure status, for staff and logs (no patient data)
    callback_id: str = ""
    attempts: int = 0  # pipeline runs started
    path: str = ""  # the sealed file in the vault, or "bucket:<key>" once in object storage (ivr.recordings.object_store)
    sha256: str = ""
    size: int = 0
    twilio_deleted: bool = False
    transcript: str = ""  # sealed token
    words: str = ""  # sealed token of JSON word timings
    confidence: float = 0.0
    engine: str = ""
    seconds: float = 0.0  # audio length as decoded
    urgent: bool = False  # an urgent phrase was heard (ivr.speech.urgency)
    urgent_reason: str = ""  # sealed token
    # Speech in the audio that the engine could not make out, or not surely (ivr.speech.clarity): shown as
    # "unclear — listen to the recording", with the urgent ones, until someone has listened.
    unclear: bool = False
    listened_at: float = 0.0  # when a person first played the recording in the console (0: nobody yet)
    listened_by: str = ""
    updated_at: float = 0.0

    @property
    def status_text(self) -> str:
        return STATUS_TEXT[self.status]

    @property
    def has_audio(self) -> bool:
        return bool(self.path)

    @property
    def unclear_unheard(self) -> bool:
        """Unclear and nobody has listened yet: its callback waits with the urgent ones."""
        return self.unclear and not self.listened_at

    def to_fields(self) -> dict[str, str]:
        return {f.name: records.encode(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_fields(cls, raw: dict[Any, Any]) -> "Voicemail":
        return cls(**records.decode(cls, raw))


_text = records.text


# KEYS: record, index. ARGV: received_at, recording_sid, then field/value pairs.
# Returns 1 when written, 0 when the recording was already known.
_RECEIVE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
return 1
"""


# KEYS: record. ARGV: now, user. Returns 1 when this is the first listen, 0 otherwise (or no record).
_LISTENED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local at = tonumber(redis.call('HGET', KEYS[1], 'listened_at') or '0') or 0
if at > 0 then return 0 end
redis.call('HSET', KEYS[1], 'listened_at', ARGV[1], 'listened_by', ARGV[2])
return 1
"""


# KEYS: callback. The callback's copy of a deleted message's words goes with it.
_FORGET_TEXT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'reason_transcript', '', 'urgent_reason', '')
return 1
"""


class VoicemailStore:
    def __init__(self, conn: redis.Redis, clock: Callable[[], float] = time.time) -> None:
        self.conn = conn
        self.clock = clock
        self._receive = conn.register_script(_RECEIVE)
        self._listened = conn.register_script(_LISTENED)
        self._forget_text = conn.register_script(_FORGET_TEXT)

    def receive(self, vm: Voicemail) -> tuple[Voicemail, bool]:
        """Keep a newly reported recording once. Returns the stored record and whether it is new."""
        vm.received_at = vm.received_at or self.clock()
        vm.updated_at = vm.received_at
        flat = [x for kv in vm.to_fields().items() for x in kv]
        created = bool(
            self._receive(
                keys=[keys.VOICEMAIL.format(vm.recording_sid), keys.VOICEMAILS],
                args=[repr(vm.received_at), vm.recording_sid, *flat],
            )
        )
        if created:
            return vm, True  # its callback request (``CallbackQueue.request``) waits for the replicas
        existing = self.get(vm.recording_sid)
        assert existing is not None
        durable(self.conn)  # a report again may be confirmed to the caller: the earlier write on the replicas too
        return existing, False

    def get(self, recording_sid: str) -> Voicemail | None:
        raw = self.conn.hgetall(keys.VOICEMAIL.format(recording_sid))
        return Voicemail.from_fields(raw) if raw else None

    def update(self, recording_sid: str, **changes: Any) -> None:
        """Set fields of a known record (``status`` etc.); ``updated_at`` follows."""
        probe = Voicemail(recording_sid, **changes)  # validates names and types
        data = {k: v for k, v in probe.to_fields().items() if k in changes}
        data["updated_at"] = repr(self.clock())
        key = keys.VOICEMAIL.format(recording_sid)
        pipe = self.conn.pipeline()
        pipe.exists(key)
        pipe.hset(key, mapping=data)
        if not pipe.execute()[0]:
            self.conn.delete(key)
            raise KeyError(f"no voicemail {recording_sid}")

    def link_callback(self, recording_sid: str, callback_id: str) -> None:
        """Record which callback request this recording belongs to (a callback may have several)."""
        pipe = self.conn.pipeline()
        pipe.hset(keys.VOICEMAIL.format(recording_sid), "callback_id", callback_id)
        pipe.zadd(keys.VOICEMAILS_OF_CALLBACK.format(callback_id), {recording_sid: self.clock()})
        pipe.execute()

    def for_callback(self, callback_id: str) -> list[Voicemail]:
        """The recordings left with a callback request, oldest first."""
        sids = self.conn.zrange(keys.VOICEMAILS_OF_CALLBACK.format(callback_id), 0, -1)
        pipe = self.conn.pipeline(transaction=False)
        for sid in sids:
            pipe.hgetall(keys.VOICEMAIL.format(_text(sid)))
        return [Voicemail.from_fields(raw) for raw in pipe.execute() if raw]

    def lock(self, recording_sid: str, seconds: int) -> bool:
        """One pipeline run at a time per recording. True if this run may go on."""
        return bool(self.conn.set(keys.VOICEMAIL_LOCK.format(recording_sid), "1", nx=True, ex=seconds))

    def unlock(self, recording_sid: str) -> None:
        self.conn.delete(keys.VOICEMAIL_LOCK.format(recording_sid))

    @contextmanager
    def upload_lease(self, recording_sid: str, seconds: float) -> Iterator[bool]:
        """One upload to object storage at a time per recording (apart from the pipeline's own lock): yields
        True when this worker may upload. While it does, a thread renews the lease every third of ``seconds``;
        a worker killed mid-upload stops renewing, so another may take over ``seconds`` later, however long
        a live upload takes. redis-py's Lock: only its holder can renew or release it."""
        lease = self.conn.lock(keys.VOICEMAIL_LOCK.format(recording_sid) + ":upload", timeout=seconds, thread_local=False)
        if not lease.acquire(blocking=False):
            yield False
            return
        done = threading.Event()

        def renew() -> None:
            while not done.wait(seconds / 3):
                try:
                    lease.reacquire()
                except redis.RedisError:  # LockError too
                    return  # lost (Redis away longer than the lease): the upload goes on; a second one writes the same bytes

        threading.Thread(target=renew, name=f"upload-lease-{recording_sid[-6:]}", daemon=True).start()
        try:
            yield True
        finally:
            done.set()
            try:
                lease.release()
            except redis.RedisError:  # LockError too
                pass  # lapsed or out of reach: it expires by itself

    def received_before(self, when: float, limit: int = 1000) -> list[str]:
        """RecordingSids reported before ``when`` (a timestamp), oldest first."""
        return [_text(s) for s in self.conn.zrangebyscore(keys.VOICEMAILS, "-inf", f"({when!r}", start=0, num=limit)]

    def delete(self, vm: Voicemail) -> None:
        """Forget a voicemail: its record, its place in the lists, and the transcript its callback shows (the
        audio is the vault's to delete first)."""
        pipe = self.conn.pipeline()
        pipe.delete(keys.VOICEMAIL.format(vm.recording_sid))
        pipe.zrem(keys.VOICEMAILS, vm.recording_sid)
        if vm.callback_id:
            pipe.zrem(keys.VOICEMAILS_OF_CALLBACK.format(vm.callback_id), vm.recording_sid)
        pipe.execute()
        if vm.callback_id:
            self._forget_text(keys=[keys.CALLBACK.format(vm.callback_id)])

    def mark_listened(self, recording_sid: str, user: str) -> bool:
        """Note that ``user`` played the recording. True the first time (someone has now heard it)."""
        return bool(self._listened(keys=[keys.VOICEMAIL.format(recording_sid)], args=[repr(self.clock()), user]))

    def touch(self, recording_sid: str) -> None:
        self.conn.hset(keys.VOICEMAIL.format(recording_sid), "updated_at", repr(self.clock()))

    def begin_attempt(self, recording_sid: str) -> int:
        """Count a pipeline run; returns which run this is (1 = first)."""
        return int(self.conn.hincrby(keys.VOICEMAIL.format(recording_sid), "attempts", 1))

    def recent(self, limit: int = 50) -> list[Voicemail]:
        sids = self.conn.zrevrange(keys.VOICEMAILS, 0, limit - 1)
        pipe = self.conn.pipeline(transaction=False)
        for sid in sids:
            pipe.hgetall(keys.VOICEMAIL.format(_text(sid)))
        return [Voicemail.from_fields(raw) for raw in pipe.execute() if raw]

    def unfinished(self, idle_seconds: float, limit: int = 200) -> list[str]:
        """Recordings not final whose record has not moved for ``idle_seconds`` (a lost job)."""
        now = self.clock()
        out = []
        for vm in self.recent(limit):
            if vm.status not in FINAL and now - vm.updated_at >= idle_seconds:
                out.append(vm.recording_sid)
        return out
