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

import logging
import re

from flask import Blueprint, Response, abort, current_app, request, send_from_directory
from werkzeug.exceptions import HTTPException

from ivr import services
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
    return apology()


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
    )
    if request_seq == 0 and seq is None:
        flow = runtime.flows.live(runtime.clinic.flow_for(request.form.get("To", "")))
        reply, state = start(flow, ctx, caller=request.form.get("From", ""))
        held = ""
    elif seq is not None and saved is not None and request_seq == seq:
        state = CallState.from_dict(saved)
        held = state.data.get("hold", "")
        flow = runtime.flows.version(state.flow, state.version)
        reply, state = step(flow, state, _event(), ctx)
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
    if not svc.calls.advance(call_sid, seq, state.to_dict(), request_seq, body):
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

        held = ((services.get().calls.state(call_sid) or {}).get("data") or {}).get("hold")
        if held:  # hung up while holding
            services.get().holds.leave(held, call_sid)

        services.get().queue.enqueue(
            summarize_call, call_sid, call_status, request.form.get("CallDuration", "0"),
            job_id=f"call-summary-{call_sid}", result_ttl=0,
        )
    return Response(status=204)


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
