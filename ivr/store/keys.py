"""Every Redis key name the system uses, in one place."""

from __future__ import annotations

PREFIX = "ivr:"

# Calls (ivr.store.calls)
CALL = "ivr:call:{0}"  # hash per CallSid: seq, state, r:{n}
CALL_STATS = "ivr:stats:calls:{0}"  # hash per clinic-local date
CALL_COUNTED = "ivr:stats:counted:{0}"  # CallSid already in the statistics
# Reports (ivr.store.call_records): one packed row per finished call, no patient data.
CALL_RECORDS = "ivr:records:calls:{0}"  # list per clinic-local date: packed CallRecord rows; expires after the keep time
CALL_RECORDED = "ivr:records:done:{0}"  # string per CallSid, 1 day: its row is kept
CALLBACK_RECORDS = "ivr:records:callbacks:{0}"  # list per UTC date: packed lifecycle rows of callbacks that ended then
REPORT_TOTALS = "ivr:records:totals"  # hash: counters that only grow (calls, queued, served, abandoned, time to a person buckets)
REPORT_TALLY = "ivr:records:tally:{0}"  # hash per clinic-local date: a past day's report counts, shared by web processes

# Voicemail and callback-reason recordings (ivr.store.voicemails)
VOICEMAIL = "ivr:voicemail:{0}"  # hash per RecordingSid: the fields of voicemails.Voicemail (transcript sealed)
VOICEMAILS = "ivr:voicemails"  # zset: RecordingSid by the time Twilio reported it
VOICEMAILS_OF_CALLBACK = "ivr:voicemails:callback:{0}"  # zset per callback id: its RecordingSids by time
VOICEMAIL_LOCK = "ivr:voicemail:lock:{0}"  # string per RecordingSid while a pipeline run works on it

# Staff (ivr.store.users, ivr.store.audit, ivr.store.ratelimit)
STAFF_USER = "ivr:staff:user:{0}"  # hash per username: role, phone, display_name, password_hash, disabled, created_at
STAFF_USERS = "ivr:staff:users"  # set of every username (users are disabled, never deleted)
AUDIT = "ivr:audit"  # stream: every staff action (never trimmed by the app)
AUDIT_BY_ACTOR = "ivr:audit:actor:{0}"  # stream: the same entries (same ids) per actor
AUDIT_BY_TARGET = "ivr:audit:target:{0}"  # stream: the same entries (same ids) per target
RATE_LIMITS = "ivr:limits"  # prefix of the login rate-limit counters (Flask-Limiter)
# Staff sessions and failed logins (ivr.store.sessions)
STAFF_SESSION = "ivr:staff:session:{0}"  # hash per session id: user, created, seen, key (password fingerprint); TTL past the idle time-out
STAFF_SESSIONS_OF = "ivr:staff:sessions:{0}"  # set per username: their session ids (all ended at once on disable or new password)
LOGIN_FAILED = "ivr:staff:failed:{0}"  # zset per username: failed logins from any address, by time (app clock)
LOGIN_FAILED_FROM = "ivr:staff:failed:{0}:{1}"  # zset per username and client address: failed logins by time
STAFF_DRAFT = "ivr:staff:draft:{0}:{1}"  # hash per username and callback id: an unsaved outcome and note (note sealed), with a TTL (ivr.store.drafts)

# Callers holding for a desk (ivr.store.holds)
HOLD_LINE = "ivr:hold:{0}"  # sorted set per desk: CallSid by the time it started holding

# Callbacks (ivr.store.callbacks). Templates end in {0}: the Lua scripts build some
# of these names themselves from the part before {0}.
CALLBACK = "ivr:callback:{0}"  # hash per callback id: the fields of callbacks.Callback, plus place, first_claimed_at
CALLBACK_QUEUE = "ivr:callbacks:queue:{0}"  # zset per department: waiting ids, score = place (urgent first, then requested_at)
CALLBACK_LEASES = "ivr:callbacks:leases:{0}"  # zset per department: claimed ids by lease deadline
CALLBACK_SCHEDULED = "ivr:callbacks:scheduled:{0}"  # zset per department: retry ids by not_before
CALLBACK_PHONES = "ivr:callbacks:phones:{0}"  # hash per department: phone -> id of its open callback (dedupe)
CALLBACK_CALL = "ivr:callbacks:call:{0}"  # string per "department:CallSid" -> id, 1 day (replayed webhooks)
CALLBACK_STAFF = "ivr:callbacks:staff:{0}"  # set per staff member: ids they hold
CALLBACK_HISTORY = "ivr:callbacks:history:{0}"  # list per sha1(phone): JSON events, newest first, capped
CALLBACK_EVENTS = "ivr:callbacks:events:{0}"  # zset per department: "kind|id|seconds" by time (statistics)
CALLBACK_HANDLING = "ivr:callbacks:handling:{0}"  # list per department: last claim->finish durations, newest first
CALLBACK_FINISHERS = "ivr:callbacks:finishers:{0}"  # zset per department: staff -> time of their last finish
CALLBACK_DEPARTMENTS = "ivr:callbacks:departments"  # set: departments that ever had a callback

# Outbound calls (ivr.store.outbound): "Call patient" from the console. An attempt is
# "{callback id}:{attempt key}", one per click in the console.
OUTBOUND_DIAL = "ivr:outbound:dial:{0}"  # string per attempt: "pending" (SET NX before the REST call), then the CallSid
OUTBOUND_ATTEMPT = "ivr:outbound:attempt:{0}"  # hash per attempt: staff, result, detail, call_sid, call_status, patient_status, ...
OUTBOUND_ATTEMPTS = "ivr:outbound:attempts:{0}"  # zset per callback id: attempt keys by time started (latest for the console)
OUTBOUND_CALL = "ivr:outbound:call:{0}"  # string per outbound CallSid -> attempt (status callbacks, lookups)

# Flow versions (ivr.store.flows): what the admin pages publish, read by every web process.
FLOW_TEXT = "ivr:flows:text:{0}"  # string per version hash (sha256 of the YAML, 12 hex): the YAML text
FLOW_HISTORY = "ivr:flows:history:{0}"  # list per flow name: JSON {n, version, who, at, note}, oldest first
FLOW_LIVE = "ivr:flows:live"  # hash: flow name -> live version hash
FLOW_FILES = "ivr:flows:files"  # hash: flow name -> hash of the config/flows file last published from disk
FLOW_DRAFT = "ivr:flows:draft:{0}"  # hash per flow name: text, who, at, issues (JSON), undo, "recording:<lang>:<id>" -> kept file
FLOW_GENERATION = "ivr:flows:generation"  # counter: +1 on every publish; processes reload when it moves
FLOW_DRAFT_PROMPTS = "ivr:flows:draft-prompts:{0}"  # hash per flow name: "<lang>:<prompt id>" -> text, live when the flow is published
FLOW_DRAFT_SETTINGS = "ivr:flows:draft-settings:{0}"  # string per flow name: JSON {hours, holidays} live when the flow is published
FLOW_DRAFT_NUMBERS = "ivr:flows:draft-numbers:{0}"  # string per flow name: JSON {default_flow, numbers} live when the flow is published
FLOW_PROMPTS = "ivr:flows:prompts:{0}"  # hash per flow name: version number -> JSON {lang: {id: text}}, the prompts live with it; "<n>:settings", "<n>:recordings": hours/numbers and recordings
SETTINGS_GENERATION = "ivr:settings:generation"  # counter: +1 when admin pages write prompts or clinic.yaml; processes reload

# Emergency "clinic closed" switch (ivr.store.emergency): read on every incoming call.
EMERGENCY = "ivr:emergency"  # hash: on, desk, message:<lang>, who, at
# Follow-up calls after appointments (ivr.store.followups, ivr.store.call_rate). An attempt is
# "{appointment id}:{attempt number}"; a patient is sha256(phone) (ivr.store.followups.patient_key).
FOLLOWUP_APPOINTMENT = "ivr:fu:appt:{0}"  # hash per appointment id: patient, time, provider, status, outcome, ans:*
FOLLOWUP_APPOINTMENTS = "ivr:fu:appts"  # zset: appointment ids by appointment time (epoch seconds)
FOLLOWUP_DIAL = "ivr:fu:dial:{0}"  # string per attempt: "pending" (SET NX before the REST call), then the CallSid
FOLLOWUP_ATTEMPT = "ivr:fu:attempt:{0}"  # hash per attempt: started_at, call_sid, call_status, answered_by, result, detail
FOLLOWUP_CALL = "ivr:fu:call:{0}"  # string per CallSid -> attempt (webhooks find their appointment)
FOLLOWUP_PATIENT_CALLS = "ivr:fu:patient:{0}"  # zset per patient: attempts by the time their call was placed
FOLLOWUP_DO_NOT_CALL = "ivr:fu:dnc"  # hash: patient -> JSON {at, source, last4}; never called again
FOLLOWUP_EVENTS = "ivr:fu:events:{0}"  # list per appointment: JSON events (gate refusals, attempts), newest first, capped
FOLLOWUP_API_KEYS = "ivr:fu:apikeys"  # hash: sha256(API key) -> key name (the key itself is never stored)
FOLLOWUP_API_KEY = "ivr:fu:apikey:{0}"  # hash per API key id: name, created_at/by, last_used_at, uses, revoked_at/by, replaced_by
FOLLOWUP_API_KEY_IDS = "ivr:fu:apikeys:ids"  # hash: sha256(API key) -> key id (replaces FOLLOWUP_API_KEYS, the old format, read and moved lazily)
FOLLOWUP_API_KEY_LIST = "ivr:fu:apikeys:list"  # zset: every key id (revoked ones too) by created_at
FOLLOWUP_API_KEY_REFUSED = "ivr:fu:apikey:refused:{0}"  # string per key id, 60 s: a revoked key's use was just audited
FOLLOWUP_SCOPES = "ivr:fu:scopes"  # hash: appointment id -> the API key scope that owns it (ivr.store.appointment_scopes)
TURN = "ivr:turn:{0}"  # string with a TTL: one worker does this periodic work now (ivr.store.turns)
FOLLOWUP_BLOCKED = "ivr:fu:blocked"  # zset: appointment ids waiting for a fix (settings, Twilio account), by when blocked
FOLLOWUP_INFLIGHT = "ivr:fu:inflight"  # zset: attempts dialled and not yet settled, by when dialled (reconciliation)
FOLLOWUP_PROBE = "ivr:fu:probe"  # string with a TTL: a blocked follow-up was just tried again (one probe at a time)
FOLLOWUP_RATE = "ivr:fu:rate"  # string: the calls-per-second limiter's theoretical arrival time (microseconds)
# Live console (ivr.store.events): every callback change is published for the open consoles.
CALLBACK_LIVE = "ivr:callbacks:live"  # pub/sub channel: JSON {v, department, kind, id} after each change (no patient data)
CALLBACK_LIVE_VERSION = "ivr:callbacks:live:version"  # counter: +1 per published change (the events' ids)
CALLBACK_LIVE_RECENT = "ivr:callbacks:live:recent"  # list: the last published events, newest first (replayed on reconnect)
# Texts to patients (ivr.store.texts): {0} of the patient's keys is followups.patient_key(phone), never the number.
TEXT_SENT = "ivr:texts:sent:{0}"  # zset per patient: "purpose:ref" -> when texted (the per-day and per-week limits)
TEXT_GUARD = "ivr:texts:guard:{0}"  # string per "purpose:ref": "pending" (SET NX before the REST request), then the MessageSid
TEXT_MESSAGE = "ivr:texts:message:{0}"  # hash per MessageSid: callback, purpose, status, rank, error
TEXT_LOG = "ivr:texts:log:{0}"  # list per callback id: JSON lines (sent, not sent, replies sealed, opt-outs), newest first
TEXT_LATEST = "ivr:texts:latest:{0}"  # string per patient: the callback last texted about (replies land there)
TEXT_LINE = "ivr:texts:line:{0}"  # string per patient: "type|source" (mobile|lookup, landline|keypad...), 30 days
TEXT_REFUSED = "ivr:texts:refused"  # string: Twilio's error code refusing every text (the Messaging Service), until one goes
