"""Voice webhooks. Thin: load state, run the engine, save state, render.

    POST /voice/incoming          Twilio's voice URL for the clinic number
    POST /voice/step?s=N          every Gather/Dial/Record action after that
    POST /voice/fallback          Twilio's fallback URL: static apology + a person
    POST /voice/fallback/...      the rest of that fallback path
    POST /voice/status            call status callbacks
    POST /voice/recording         recording status callbacks (voicemail)
    GET  /voice/audio/<lang>/<f>  recorded prompts, for <Play>

Whatever fails inside, the caller gets valid TwiML that reaches a person or
voicemail, never Twilio's "application error".
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time

from flask import Blueprint, Response, abort, current_app, request, send_from_directory
import redis
from werkzeug.exceptions import HTTPException

from ivr import services
from ivr.texts import messaging_service_sid
from ivr.reports import record as report_record
from ivr.store.call_records import MARK_FIELDS, CallRecords, metric_fields
from ivr.flows import CallState, Event, start, step
from ivr.voice import effects, safety
from ivr.voice.security import twilio_signed
from ivr.workers import voicemail as voicemail_jobs

log = logging.getLogger(__name__)

bp = Blueprint("voice", __name__, url_prefix="/voice")

RECORDING_SID = re.compile(r"RE[0-9a-fA-F]{32}")
FINAL_CALL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}


def twiml(body: str) -> Response:
    return Response(body, mimetype="text/xml")


def apology() -> Response:
    """Safe TwiML: apologise, ring the fallback desk, then voicemail."""
    try:
        number = services.get().runtime.clinic.fallback_number
    except Exception:  # noqa: BLE001 - the fallback must not fail
        number = current_app.config.get("IVR_FALLBACK_NUMBER")
    return twiml(safety.apology(number))


@bp.errorhandler(Exception)
def _any_failure(exc: Exception):
    if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        return exc
    log.exception("voice webhook failed; caller sent to the fallback desk")
    if not isinstance(exc, redis.RedisError):  # Redis failing: do not wait on it again for the record
        _mark("fb")
    return apology()


def _mark(flag: str) -> None:
    """Note on the call that the apology (``fb``) or the emergency switch (``em``) answered it, and
    when: its report record says so. One round trip; never fails the call."""
    call_sid = request.form.get("CallSid", "")
    if call_sid.startswith("CA"):
        try:
            svc = services.get()
            svc.calls.mark(call_sid, **{flag: "1", "t0": f"{svc.now().timestamp():.3f}"})
        except Exception:  # noqa: BLE001 - the answer must not fail for its record
            log.warning("could not note on the call what answered it, for its record")


def _event() -> Event:
    form = request.form
    try:
        confidence = float(form.get("Confidence") or 0)
    except ValueError:
        confidence = 0.0
    try:
        duration = int(form.get("RecordingDuration") or 0)
    except ValueError:
        duration = 0
    sid = form.get("RecordingSid", "")
    if sid and not RECORDING_SID.fullmatch(sid):
        log.warning("Record action with a malformed RecordingSid on %s: treated as no recording", request.path)
        sid = ""
    return Event(
        digits=form.get("Digits", "").strip(),
        speech=form.get("SpeechResult", ""),
        confidence=confidence,
        dial_status=form.get("DialCallStatus", ""),
        recording_url=form.get("RecordingUrl", ""),
        recording_duration=duration,
        recording_sid=sid,
        record_empty=request.args.get("e") == "empty",
    )


def _answer(request_seq: int, loaded: tuple | None = None, in_line: tuple | None = None) -> Response:
    began = time.perf_counter()
    call_sid = request.form.get("CallSid", "")
    if not call_sid.startswith("CA"):
        log.warning("webhook without a CallSid on %s; sending the caller to a person", request.path)
        return apology()
    svc = services.get()
    runtime = svc.runtime
    runtime.refresh()
    seq, saved, sent = loaded if loaded is not None else svc.calls.load(call_sid, request_seq)
    if sent is not None:  # a replay: same answer, no change
        return twiml(sent)

    ctx = runtime.context(
        svc.now(),
        call_key=call_sid,
        wait_seconds=svc.callbacks.estimated_wait_seconds,
        hold_position=svc.holds.position,
        in_line=_in_line(svc, in_line),
        texts=bool(messaging_service_sid(current_app.config)),  # a callback asks whether the phone takes texts
    )
    if request_seq == 0 and seq is None:
        flow = runtime.flows.live(runtime.clinic.flow_for(request.form.get("To", "")))
        reply, state = start(flow, ctx, caller=request.form.get("From", ""))
        held, outcome_before, event = "", "", None
    elif seq is not None and saved is not None and request_seq == seq:
        state = CallState.from_dict(saved)
        held = state.data.get("hold", "")
        flow = runtime.flows.version(state.flow, state.version)
        outcome_before, event = state.outcome, _event()
        reply, state = step(flow, state, event, ctx)
    else:
        # Out of order (an old request whose answer expired, or an unknown call):
        # repeat the latest answer if there is one, else a person.
        latest = svc.calls.reply(call_sid, seq - 1) if seq else None
        log.warning("out-of-order webhook for %s (request %s, call at %s)", call_sid, request_seq, seq)
        return twiml(latest) if latest else apology()

    reply, state = effects.perform_effects(flow, reply, state, ctx, call_sid)
    if held and (state.data.get("hold") != held or reply.ends_call):
        svc.holds.leave(held, call_sid)  # answered, moved on, or ending: no longer holding

    state.seq = request_seq + 1
    body = runtime.render(reply, state.seq, _audio_base(), ctx.now)
    marks = report_record.step_marks(
        request_seq, ctx.now, flow, outcome_before, state, event,
        dial_duration=request.form.get("DialCallDuration", 0, type=int) or 0,
        first_ms=int((time.perf_counter() - began) * 1000) if request_seq == 0 else None,
        open_status=ctx.schedule.status(ctx.now).value if request_seq == 0 else "",
    )
    if not svc.calls.advance(call_sid, seq, state.to_dict(), request_seq, body, marks.args()):
        # The same webhook is being answered concurrently: send what was stored.
        return twiml(svc.calls.reply(call_sid, request_seq) or body)
    return twiml(body)


def _in_line(svc, read: tuple | None):
    """The engine's question "has this number a callback in line?": answered from ``read``, the
    (number, answer) a new call's first round trip fetched, else asked of Redis (one round trip, only
    when a ``returning`` node is entered on a later webhook)."""
    def in_line(phone: str):
        if read is not None and read[0] == phone:
            return read[1]
        if not phone.startswith("+"):
            return None
        try:
            return svc.callbacks.open_for(phone)
        except Exception:  # noqa: BLE001 - not worth failing a call: the caller goes on as a new one
            log.warning("could not read whether the caller has a callback in line; going on without")
            return None

    return in_line


def _audio_base() -> str:
    return current_app.config.get("PUBLIC_URL") or request.host_url


@bp.post("/incoming")
@twilio_signed
def incoming():
    svc = services.get()
    caller = request.form.get("From", "")
    switch, loaded, in_line = _switch_and_call(svc, request.form.get("CallSid", ""), caller)
    if switch.on:
        from ivr.voice.closed import closed_twiml

        log.info("emergency closed switch is on: call sent to %s", switch.desk or "the fallback desk")
        _mark("em")
        return twiml(closed_twiml(svc.runtime.clinic, switch, svc.now()))
    return _answer(0, loaded, in_line)


def _switch_and_call(svc, call_sid: str, caller: str = ""):
    """The emergency switch, the call's stored state and the caller's callback already in line (if
    any: ``CallbackQueue.open_for``), read in one round trip.

    Returns (switch, loaded call, (caller, callback or None) or None when not read). Redis
    unreadable: the switch reads as off and the call is loaded again by ``_answer`` (whose failure
    sends the caller to a person), as when they were read apart.
    """
    from ivr.store.emergency import OFF, EmergencySwitch

    pipe = svc.redis.pipeline(transaction=False)
    EmergencySwitch.read_into(pipe)
    svc.calls.load_into(pipe, call_sid, 0)
    asks = caller.startswith("+")  # anonymous, restricted: no number to look for
    if asks:
        svc.callbacks.open_for_into(pipe, caller)
    try:
        raw = pipe.execute()
        in_line = (caller, svc.callbacks.parse_open_for(raw[2], caller)) if asks else None
        return EmergencySwitch.parse(raw[0]), svc.calls.parse_load(raw[1]), in_line
    except Exception:  # noqa: BLE001 - as EmergencySwitch.current: never fail a call on the switch
        log.warning("emergency switch and call state unreadable; switch treated as off")
        return OFF, None, None


@bp.post("/step")
@twilio_signed
def step_view():
    seq = request.args.get("s", type=int)
    if seq is None or seq < 1:
        log.warning("step webhook without a valid sequence number")
        return apology()
    return _answer(seq)


@bp.post("/fallback")
@twilio_signed
def fallback():
    _mark("fb")
    return apology()


@bp.post("/fallback/voicemail")
@twilio_signed
def fallback_voicemail():
    return twiml(safety.voicemail(request.form.get("DialCallStatus", "")))


@bp.post("/fallback/done")
@twilio_signed
def fallback_done():
    """After the fallback voicemail: keep it now, and promise a call back only if it was kept."""
    form = request.form
    sid = form.get("RecordingSid", "")
    if not RECORDING_SID.fullmatch(sid):
        return twiml(safety.done(kept=False))
    try:
        svc = services.get()
        voicemail_jobs.receive(
            {"RecordingSid": sid, "CallSid": form.get("CallSid", ""), "RecordingDuration": form.get("RecordingDuration", "0"),
             "RecordingStatus": "completed"},
            {"department": svc.runtime.clinic.fallback_desk, "lang": ""},
            form.get("From", ""), svc.voicemails, svc.callbacks, svc.speech_queue, svc.runtime.clinic,
        )
    except Exception:  # noqa: BLE001 - Redis refusing writes, or anything else: say only what is true
        log.exception("fallback voicemail %s could not be kept now; it will be recovered from Twilio", sid)
        return twiml(safety.done(kept=False))
    return twiml(safety.done())


@bp.post("/status")
@twilio_signed
def status():
    call_sid = request.form.get("CallSid", "")
    call_status = request.form.get("CallStatus", "")
    if call_sid.startswith("CA") and call_status in FINAL_CALL_STATUSES:
        from ivr.workers.calls import summarize_call

        svc = services.get()
        state, marks = svc.calls.ended(call_sid, MARK_FIELDS)
        held = ((state or {}).get("data") or {}).get("hold")
        if held:  # hung up while holding
            svc.holds.leave(held, call_sid)
        _keep_record(svc, call_sid, state, marks)

        services.get().queue.enqueue(
            summarize_call, call_sid, call_status, request.form.get("CallDuration", "0"),
            job_id=f"call-summary-{call_sid}", result_ttl=0,
        )
    return Response(status=204)


def _keep_record(svc, call_sid: str, state: dict | None, marks: dict[str, str]) -> None:
    """The call's report record (no patient data): one round trip. A failure only loses the record."""
    if not current_app.config.get("REPORTS_RECORD_CALLS", True):
        return
    try:
        runtime = svc.runtime
        flow = None
        if state:
            try:
                flow = runtime.flows.version(state["flow"], state["version"])
            except Exception:  # noqa: BLE001 - a version no longer known: the path's steps are left out
                flow = None
        now = svc.now()
        rec = report_record.build(state, marks, flow, now)
        day = dt.datetime.fromtimestamp(rec.arrived, runtime.clinic.zone).date()
        threshold = int(current_app.config.get("REPORTS_SERVICE_LEVEL_SECONDS") or 60)
        records = CallRecords(svc.redis, int(current_app.config.get("REPORTS_KEEP_DAYS") or 400))
        records.record(call_sid, day, rec, metric_fields(rec, threshold))
    except Exception:  # noqa: BLE001 - Twilio's status callback must not fail for a statistic
        log.exception("call %s: its report record could not be kept", call_sid)


@bp.post("/recording")
@twilio_signed
def recording():
    """Twilio's recording status callback: keep the voicemail, queue its callback and transcription."""
    form = request.form
    sid = form.get("RecordingSid", "")
    if not RECORDING_SID.fullmatch(sid):
        return Response("RecordingSid missing or malformed\n", 400, mimetype="text/plain")
    svc = services.get()
    call_sid = form.get("CallSid", "")
    try:
        saved = svc.calls.state(call_sid) if call_sid.startswith("CA") else None
        caller = (saved or {}).get("caller") or form.get("From", "")
        vm, created = voicemail_jobs.receive(
            form, request.args, caller, svc.voicemails, svc.callbacks, svc.speech_queue, svc.runtime.clinic
        )
    except Exception:  # noqa: BLE001 - not a caller's call: tell Twilio (its debugger shows it); recovered later
        log.exception("recording %s for call %s could not be kept now; it will be recovered from Twilio", sid, call_sid)
        return Response("could not keep the recording now; it will be recovered from the account's recordings\n",
                        503, mimetype="text/plain")
    log.info(
        "%s %s %s for call %s (callback %s)",
        vm.purpose, sid, "received" if created else "reported again", call_sid, vm.callback_id or "none",
    )
    return Response(status=204)


@bp.get("/audio/<lang>/<path:name>")
def audio(lang: str, name: str):
    runtime = services.get().runtime
    if runtime.prompts.audio_file(lang, name.rsplit(".", 1)[0]) != name:
        abort(404)
    return send_from_directory(runtime.prompts_dir / lang / "audio", name, max_age=3600)
