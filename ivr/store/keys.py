"""Every Redis key name the system uses, in one place."""

from __future__ import annotations

PREFIX = "ivr:"

# Calls (ivr.store.calls)
CALL = "ivr:call:{0}"  # hash per CallSid: seq, state, r:{n}
CALL_STATS = "ivr:stats:calls:{0}"  # hash per clinic-local date
CALL_COUNTED = "ivr:stats:counted:{0}"  # CallSid already in the statistics
RECORDINGS = "ivr:recordings:new"  # hash RecordingSid -> voicemail recording awaiting transcription
