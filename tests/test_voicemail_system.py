"""A voicemail end to end: a signed call leaves a message, a real RQ worker (its own process) fetches and
transcribes it, and a nurse reads and plays it in the console in headless Chromium. Plus the deletion
request checked against Twilio's OpenAPI description (Prism).
"""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from ivr.staff.passwords import hash_password
from ivr.store.audit import PLAY_RECORDING
from ivr.store.users import UserStore
from ivr.workers import voicemail as jobs

from .browser import play_audio
from .conftest import DATA_KEY, flask_transport
from .fake_twilio import FakeTwilio
from .processes import run_ivr
from .test_voicemail_pipeline import reference

PASSWORD = "correct horse battery staple"
CALLER = "+13055550147"


@pytest.fixture
def twilio():
    fake = FakeTwilio("AC" + secrets.token_hex(16), secrets.token_hex(16))
    yield fake
    fake.stop()


def leave_voicemail(live_server, phone, transport_app, caller: str = CALLER, language_key: str = "") -> str:
    """Call the clinic, choose the nurse line, nobody answers, leave a message. Returns its RecordingSid."""
    call = phone(caller=caller)
    call.transport = transport_app
    call.start()
    if language_key:
        call.press(language_key)  # 9: Spanish (a call starts in English)
    turn = call.press("3")  # nurse line
    if turn.dial_number:  # rung: nobody answers; with others already waiting, the wait is offered first
        call.dial_result("no-answer")
    turn = call.press("3")  # leave a message
    assert turn.waiting == "record"
    turn = call.record(seconds=14)
    assert turn.waiting == "ended"
    return live_server.app.extensions["ivr"].voicemails.recent()[0].recording_sid


def run_speech_worker(live_server, redis_server, twilio):
    """`ivr worker --speech --burst` in its own process, on the app's Redis, data and the fake Twilio."""
    result = run_ivr(
        "worker", "--burst", "--no-scheduler", "--speech",
        REDIS_URL=redis_server.url,
        IVR_DATA_DIR=live_server.app.config["DATA_DIR"],
        IVR_DATA_KEY=DATA_KEY,
        TWILIO_ACCOUNT_SID=twilio.account_sid,
        TWILIO_AUTH_TOKEN=twilio.auth_token,
        TWILIO_API_BASE_URL=twilio.base_url,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_message_is_transcribed_by_a_real_worker_and_a_nurse_reads_and_plays_it(
    live_server, phone, redis_server, twilio, page
):
    twilio.default_audio = reference("urgent-02")  # "my husband is having trouble breathing"
    sid = leave_voicemail(live_server, phone, flask_transport(live_server.app))
    svc = live_server.app.extensions["ivr"]

    result = run_speech_worker(live_server, redis_server, twilio)
    vm = svc.voicemails.get(sid)
    assert vm.status.value == "transcribed", (vm.status, vm.detail)
    assert vm.urgent and twilio.deleted == [sid]
    # The worker's log names the recording, never the caller's number or what they said.
    assert sid in result.stderr
    assert "3055550147" not in result.stderr and "breathing" not in result.stderr.lower()

    UserStore(svc.redis).add("nina", "nurse", hash_password(PASSWORD), display_name="Nina Patel")
    page.goto(live_server.url + "/login")
    page.get_by_label("Username").fill("nina")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    row = page.locator(f"tr[data-callback='{vm.callback_id}']")
    expect(row).to_have_class(re.compile("urgent"))
    expect(row).to_contain_text("trouble breathing")
    expect(row).to_contain_text("(•••) •••-0147")

    page.goto(f"{live_server.url}/console/callbacks/{vm.callback_id}")
    message = page.locator(f"article.message[data-recording='{sid}']")
    expect(message.locator(".transcript")).to_contain_text("breathing")
    expect(message.locator(".urgent-reason")).to_contain_text("trouble breathing")
    audio = message.locator("audio")
    src = audio.get_attribute("src")
    played = play_audio(page, src)
    assert played["error"] is None and played["duration"] > 5, played
    resp = page.request.get(live_server.url + src)
    assert resp.status == 200 and resp.body()[:4] == b"RIFF" and resp.headers["cache-control"] == "no-store"
    plays = [e for e in svc.audit.for_actor("nina") if e.action == PLAY_RECORDING]
    assert plays and plays[0].target == vm.callback_id and plays[0].detail == sid

    # Another department's staff cannot fetch the audio.
    UserStore(svc.redis).add("bill", "billing", hash_password(PASSWORD))
    page.context.clear_cookies()
    page.goto(live_server.url + "/login")
    page.get_by_label("Username").fill("bill")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    assert page.request.get(live_server.url + src).status == 403


def test_a_spanish_urgent_message_tops_the_nurse_queue_and_silence_gives_no_text(live_server, phone, redis_server, twilio):
    """Real audio through a real speech worker: "no puedo respirar" in Spanish is urgent; a silent message is no speech."""
    transport = flask_transport(live_server.app)
    svc = live_server.app.extensions["ivr"]
    first = leave_voicemail(live_server, phone, transport, caller="+13055550111")
    twilio.recordings[first] = reference("nurse-02")
    silent = leave_voicemail(live_server, phone, transport, caller="+13055550122")
    twilio.recordings[silent] = _silence_wav()
    spanish = leave_voicemail(live_server, phone, transport, caller="+13055550133", language_key="9")
    twilio.recordings[spanish] = reference("es-urgent-02")
    assert svc.voicemails.get(spanish).lang == "es"

    result = run_speech_worker(live_server, redis_server, twilio)
    assert "speech engines ready: en: whisper:base; es: whisper:base" in result.stderr
    vm = svc.voicemails.get(spanish)
    assert (vm.status.value, vm.urgent, vm.engine) == ("transcribed", True, "whisper:base"), vm.detail
    assert svc.callbacks.waiting("nurse")[0].id == vm.callback_id  # above the English message left first
    assert svc.voicemails.get(first).status.value == "transcribed" and not svc.voicemails.get(first).urgent
    quiet = svc.voicemails.get(silent)
    assert quiet.status.value == "no_speech" and quiet.status_text == "no speech detected"
    assert svc.sealer.open_text(quiet.transcript, f"transcript:{silent}") == ""
    assert "respirar" not in result.stderr and "3055550133" not in result.stderr


def _silence_wav(seconds: float = 6.0) -> bytes:
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * int(8000 * seconds))
    return buf.getvalue()


def test_deleting_twilios_copy_matches_twilios_api_description(prism, twilio_spec):
    account = "AC" + secrets.token_hex(16)
    settings = {"TWILIO_ACCOUNT_SID": account, "TWILIO_AUTH_TOKEN": "fake-auth-token", "TWILIO_API_BASE_URL": prism.base_url}
    sid = "RE" + secrets.token_hex(16)
    jobs.delete_at_twilio(settings, sid)  # Prism answers 422 to anything that does not match the description
    prism.sync()
    assert re.search(rf"delete /2010-04-01/Accounts/{account}/Recordings/{sid}\.json", prism.log())
