"""Voicemail pipeline: fetch the recording, keep it encrypted, transcribe it here, flag it, queue the callback.

``/voice/recording`` (Twilio's recording status callback) calls ``receive``:
it writes the voicemail record, puts the caller in their department's callback
queue at once (a message must reach a person even if no worker is running) and
enqueues ``process_recording``. The job:

1. fetches the audio from Twilio with the account's credentials (Twilio may
   answer 404 for a few seconds after the callback: the job is retried with
   backoff), seals it into the vault and reads it back (ivr.recordings.vault); with a
   recordings bucket (ivr.recordings.object_store) the sealed file is uploaded as it is
   and deleted here once the bucket has it; an upload that fails leaves the file,
   which every worker's sweep on this machine uploads again (``upload_pending``);
2. decodes it with pydub and transcribes it offline (ivr.speech), once per
   recording, with the engine loaded once per speech worker process, in the
   caller's menu language, or when that is unknown the clinic language heard
   (which is then kept on the voicemail);
3. marks it urgent when an urgent phrase is heard (ivr.speech.urgency): the callback
   moves to the top of its queue and staff see what was heard and which phrase it
   was taken for; a message with speech the engine could not make out, or not
   surely (ivr.speech.clarity), is marked unclear and waits with the urgent ones
   until someone has listened to it (the console's player, ivr.staff.callback_page);
4. deletes Twilio's copy, only once our copy is verified and readable.

Every step is recorded on the voicemail (ivr.store.voicemails), so a job run
twice, or retried after a crash, picks up where the last one stopped. Bad audio
ends with a clear status and the callback request stays. A run that fails for a
passing reason raises and RQ retries it; after ``voicemail.attempts`` runs the
failure is final. Workers also re-queue voicemails whose job was lost
(``requeue_stalled``). Logs name recordings by sid, never a number or words.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import requests
from rq import Queue, Retry
from rq.job import Job

from ivr.recordings import object_store
from ivr.telephony import twilio_rest
from ivr.clinic.settings import ClinicSettings
from ivr.config import environment_settings
from ivr.protection.sealing import Sealer
from ivr.store.callback_types import UnknownCallback
from ivr.store.callbacks import CallbackQueue
from ivr.store.voicemails import FINAL, Voicemail, VoicemailStatus, VoicemailStore
from ivr.speech.urgency import UNCLEAR_REASON, UrgentPhrases, reason
from ivr.recordings.vault import RecordingVault, VaultError
from ivr.workers import context

if TYPE_CHECKING:
    from ivr import speech

log = logging.getLogger(__name__)

JOB_TIMEOUT = 15 * 60  # seconds: fetch + transcription of the longest message, with room
RETRY_INTERVALS = [10, 30, 90, 300, 900, 1800]  # seconds between runs after a passing failure
FETCH_TIMEOUT = 30.0  # seconds per request to Twilio
MAX_SECONDS = 15 * 60  # longer audio is cut here for transcription (the whole file is kept)
STALLED_SECONDS = 20 * 60  # a voicemail whose record has not moved this long has lost its job
UPLOADS_PER_SWEEP = 10  # recordings a sweep uploads at most (the rest at the next one)
# One upload of a recording at a time (a second would only write the same bytes again): the uploading worker
# renews its lease, so a worker killed mid-upload holds the recording back this long, not a whole upload's time.
UPLOAD_LEASE_SECONDS = 10


class TransientError(RuntimeError):
    """A step failed for a reason that may pass (Twilio 404/5xx, no connection, disk): retry the job."""


# The web side -------------------------------------------------------------


def callback_phone(caller: str, clinic: ClinicSettings) -> str:
    """The number to call back: the caller ID in E.164, or "" when it is withheld, not a number, or one
    the clinic never calls back (premium rate, shared cost, another country: staff hear the message)."""
    from ivr.flows.callback_nodes import callback_number

    regions = frozenset(clinic.callbacks.call_back_countries or [clinic.country])
    return callback_number(caller or "", clinic.country, regions)[0] or ""


def ensure_callback(vm: Voicemail, store: VoicemailStore, callbacks: CallbackQueue, clinic: ClinicSettings) -> str:
    """The callback request this voicemail belongs to, made if missing. Returns its id.

    A voicemail (not a callback reason, whose callback the call itself made) is
    a callback request in its department. The same number already waiting
    keeps its place; the same call twice is one request. A caller with no
    usable caller ID still gets a request (staff hear the number in the
    message), kept apart by the recording's sid.
    """
    if vm.callback_id:
        return vm.callback_id
    if vm.purpose == "callback_reason":
        found = callbacks.find_for_call(vm.department, vm.call_sid) if vm.call_sid else None
        if found:
            store.link_callback(vm.recording_sid, found)
        return found or ""
    department = vm.department if vm.department in clinic.desks else clinic.fallback_desk
    phone = callback_phone(vm.caller, clinic) or f"withheld:{vm.recording_sid}"
    placed = callbacks.request(
        department,
        phone,
        vm.lang or next(iter(clinic.languages)),
        caller_id=vm.caller,
        call_sid=vm.call_sid,
        source="voicemail",
        reason_recording_sid=vm.recording_sid,
    )
    store.link_callback(vm.recording_sid, placed.callback.id)
    if placed.callback.phone.startswith("+"):  # a confirmation text, when texts are set up (ivr.texts)
        from ivr import texts
        from ivr.workers.texts import send_later

        send_later(callbacks.conn, "confirm_voicemail", texts.CALLBACK, placed.callback.id, vm.recording_sid)
    return placed.callback.id


def job_id(recording_sid: str) -> str:
    return f"voicemail-{recording_sid}"


def enqueue(queue: Queue, recording_sid: str, attempts: int) -> Job:
    """Queue ``process_recording`` for a recording on ``queue`` (the speech queue, which speech workers
    work); RQ retries it up to ``attempts`` runs in all."""
    return queue.enqueue_call(
        process_recording,
        args=(recording_sid,),
        job_id=job_id(recording_sid),
        timeout=JOB_TIMEOUT,
        retry=Retry(max=max(attempts - 1, 1), interval=RETRY_INTERVALS[: max(attempts - 1, 1)]),
        result_ttl=3600,
        failure_ttl=7 * 86400,
        description=f"voicemail {recording_sid}",
    )


def receive(
    form: Mapping[str, str],
    args: Mapping[str, str],
    caller: str,
    store: VoicemailStore,
    callbacks: CallbackQueue,
    queue: Queue,
    clinic: ClinicSettings,
) -> tuple[Voicemail, bool]:
    """A recording status callback: keep the voicemail once, queue its callback and its job."""
    status = form.get("RecordingStatus", "completed")
    try:
        duration = int(form.get("RecordingDuration") or 0)
    except ValueError:
        duration = 0
    vm = Voicemail(
        recording_sid=form["RecordingSid"],
        call_sid=form.get("CallSid", ""),
        caller=caller,
        department=args.get("department", ""),
        lang=args.get("lang", ""),
        purpose="callback_reason" if args.get("purpose") == "callback_reason" else "voicemail",
        duration=duration,
        status=VoicemailStatus.RECEIVED if status == "completed" else VoicemailStatus.NO_AUDIO,
        detail="" if status == "completed" else f"Twilio reported the recording as {status!r}",
    )
    vm, created = store.receive(vm)
    try:
        vm.callback_id = ensure_callback(vm, store, callbacks, clinic)
    finally:
        if created and vm.status not in FINAL:
            enqueue(queue, vm.recording_sid, clinic.voicemail.attempts)
    return vm, created


# The job ------------------------------------------------------------------


def models_dir(data_dir: str | Path) -> Path:
    return Path(data_dir) / "models"


def fetch_audio(settings: Mapping[str, Any], recording_sid: str) -> bytes:
    """The recording's audio (WAV) from Twilio's API, with the account's credentials.

    The address is built from the configured API base and the recording's sid,
    never taken from the webhook, so credentials only ever go to Twilio (or the
    configured TWILIO_API_BASE_URL).
    """
    account = str(settings.get("TWILIO_ACCOUNT_SID") or "").strip()
    token = str(settings.get("TWILIO_AUTH_TOKEN") or "").strip()
    if not account or not token:
        local = _local_copy(settings, recording_sid)
        if local is not None:  # left on the terminal phone (`ivr call`): no Twilio account needed
            return local.read_bytes()
        raise TransientError(twilio_rest.CREDENTIALS_MISSING)
    base = str(settings.get("TWILIO_API_BASE_URL") or "https://api.twilio.com").rstrip("/")
    url = f"{base}/2010-04-01/Accounts/{account}/Recordings/{recording_sid}.wav"
    try:
        resp = requests.get(url, auth=(account, token), timeout=FETCH_TIMEOUT)
    except requests.RequestException as exc:
        raise TransientError(f"{type(exc).__name__} fetching the recording from Twilio") from None
    if resp.status_code == 404:
        raise TransientError("Twilio answered 404: the recording is not ready yet, or is gone")
    if resp.status_code != 200:
        raise TransientError(f"Twilio answered HTTP {resp.status_code} to the recording download")
    expected = resp.headers.get("Content-Length")
    if expected is not None and expected.isdigit() and int(expected) != len(resp.content):
        raise TransientError(f"download cut short ({len(resp.content)} of {expected} bytes)")
    return resp.content


def _local_copy(settings: Mapping[str, Any], recording_sid: str) -> Path | None:
    """The terminal phone's recording ``recording_sid`` in the data folder, if there is one."""
    from ivr.telephony.simulator import local_recording

    return local_recording(str(settings.get("DATA_DIR") or "var"), recording_sid)


def delete_at_twilio(settings: Mapping[str, Any], recording_sid: str) -> None:
    """Delete Twilio's copy (already gone counts as done), or the terminal phone's. Raises TransientError."""
    from twilio.base.exceptions import TwilioRestException

    if not str(settings.get("TWILIO_ACCOUNT_SID") or "").strip():
        local = _local_copy(settings, recording_sid)
        if local is not None:
            local.unlink(missing_ok=True)
            return

    try:
        client = twilio_rest.make_client(settings)
    except twilio_rest.TwilioNotConfigured as exc:
        raise TransientError(str(exc)) from None
    try:
        client.recordings(recording_sid).delete()
    except TwilioRestException as exc:
        if exc.status != 404:
            raise TransientError(f"Twilio answered HTTP {exc.status} to deleting the recording") from None
    except requests.RequestException as exc:
        raise TransientError(f"{type(exc).__name__} deleting the recording at Twilio") from None
    finally:
        twilio_rest.close(client)


def process_recording(recording_sid: str) -> str:
    """Run the pipeline for one recording; returns its status. Raises TransientError to be retried."""
    ctx = context.get()
    return Pipeline(
        store=VoicemailStore(ctx.redis),
        callbacks=CallbackQueue(ctx.redis),
        clinic=ctx.clinic,
        vault=vault(),
        sealer=ctx.sealer,
        settings={**twilio_rest.settings_from_env(), "DATA_DIR": ctx.data_dir},  # the data folder: for `ivr call`'s recordings
        models=models_dir(ctx.data_dir),
    ).run(recording_sid)


@lru_cache(maxsize=1)
def vault() -> RecordingVault:
    """This worker's vault: the data folder's recordings, and the recordings bucket when one is configured."""
    ctx = context.get()
    return RecordingVault(Path(ctx.data_dir) / "recordings", ctx.sealer, object_store.from_config(environment_settings()))


def upload(vault: RecordingVault, store: VoicemailStore, recording_sid: str) -> str:
    """Move a recording kept in this data folder into the bucket; returns its new path ("" when there was
    nothing here to move, or another worker is moving it). The record points at the object before the
    file is deleted, so a worker killed at any moment leaves the file, the object, or both. Raises VaultError."""
    with store.upload_lease(recording_sid, UPLOAD_LEASE_SECONDS) as mine:
        if not mine:
            return ""
        vm = store.get(recording_sid)
        if vm is None or not vm.path or object_store.key_of(vm.path) or not Path(vm.path).is_file():
            return ""
        path = vault.upload(vm.path, recording_sid)
        store.update(recording_sid, path=path)
        Path(vm.path).unlink(missing_ok=True)
        log.info("voicemail %s: in object storage", recording_sid)
        return path


def upload_pending(vault: RecordingVault, store: VoicemailStore, limit: int = UPLOADS_PER_SWEEP) -> int:
    """Upload the recordings this data folder still holds (an upload that failed, a worker killed during
    one, recordings kept before a bucket was set), ``limit`` at a time so the sweep's other work is not
    held up; delete those the bucket already has. Every worker's sweep runs it. Returns how many went up."""
    if vault.objects is None:
        return 0
    done = 0
    for file in vault.files():
        if done >= limit:
            break
        sid = file.name.removesuffix(".sealed")
        vm = store.get(sid)
        if vm is None:
            continue  # deleted, or not in this Redis (a restore): retention removes the file in time
        if object_store.key_of(vm.path):
            file.unlink(missing_ok=True)  # in the bucket: left by a worker stopped before it deleted the file
        elif vm.path and Path(vm.path).resolve() == file.resolve():
            try:
                done += bool(upload(vault, store, sid))
            except VaultError as exc:
                log.warning("voicemail %s: still kept on this machine only: %s", sid, exc)
                if isinstance(exc.__cause__, object_store.ObjectStoreError):
                    break  # the store is out of reach: the next sweep tries again (a bad file: the next file)
    return done


def _twilio_copy_to_delete(vm: Voicemail) -> bool:
    """Whether Twilio's copy should go: ours is stored and verified, and readable."""
    return bool(vm.path) and not vm.twilio_deleted and vm.status is not VoicemailStatus.UNREADABLE


class Pipeline:
    """The steps of ``process_recording`` with what they need passed in (tests build one directly)."""

    def __init__(
        self,
        store: VoicemailStore,
        callbacks: CallbackQueue,
        clinic: ClinicSettings,
        vault: RecordingVault,
        sealer: Sealer,
        settings: Mapping[str, Any],
        models: Path | None,
    ) -> None:
        self.store = store
        self.callbacks = callbacks
        self.clinic = clinic
        self.vault = vault
        self.sealer = sealer
        self.settings = settings
        self.models = models

    def run(self, recording_sid: str) -> str:
        vm = self.store.get(recording_sid)
        if vm is None:
            log.warning("voicemail %s: no record; nothing to do", recording_sid)
            return "unknown"
        if not self.store.lock(recording_sid, JOB_TIMEOUT):
            log.info("voicemail %s: another run is under way", recording_sid)
            return vm.status.value
        try:
            return self._run(vm)
        finally:
            self.store.unlock(recording_sid)

    def _run(self, vm: Voicemail) -> str:
        sid = vm.recording_sid
        vm.callback_id = ensure_callback(vm, self.store, self.callbacks, self.clinic)
        if vm.status in FINAL and not _twilio_copy_to_delete(vm):
            return vm.status.value
        attempt = self.store.begin_attempt(sid)
        last = attempt >= self.clinic.voicemail.attempts
        try:
            if vm.status not in FINAL:
                self._work(vm, last)
            if _twilio_copy_to_delete(vm):
                delete_at_twilio(self.settings, sid)
                self.store.update(sid, twilio_deleted=True)
                vm.twilio_deleted = True
        except TransientError as exc:
            if not last:
                self.store.update(sid, detail=str(exc))
                log.warning("voicemail %s: run %d failed, will retry: %s", sid, attempt, exc)
                raise
            if vm.status in FINAL:  # only the deletion at Twilio is left undone
                self.store.update(sid, detail=f"Twilio's copy not deleted: {exc}")
            else:
                final = VoicemailStatus.FAILED if vm.path else VoicemailStatus.FETCH_FAILED
                self.store.update(sid, status=final, detail=str(exc))
                vm.status = final
            log.error("voicemail %s: giving up after %d runs: %s", sid, attempt, exc)
        return vm.status.value

    def _work(self, vm: Voicemail, last: bool) -> None:
        from ivr import speech  # here, not at import: web processes never load speech engines

        sid = vm.recording_sid
        if vm.path:
            try:
                audio = self.vault.get(vm.path, sid)
            except VaultError as exc:
                raise TransientError(str(exc)) from None
        else:
            audio = fetch_audio(self.settings, sid)
            try:
                stored = self.vault.put(sid, audio)
            except VaultError as exc:
                raise TransientError(str(exc)) from None
            vm.path = str(stored.path)
            self.store.update(sid, status=VoicemailStatus.STORED, path=vm.path, sha256=stored.sha256, size=stored.size, detail="")
            vm.status = VoicemailStatus.STORED
            log.info("voicemail %s: stored, %d bytes", sid, stored.size)
            if self.vault.objects is not None:
                try:
                    vm.path = upload(self.vault, self.store, sid) or vm.path
                except VaultError as exc:  # the file stays here; the sweep uploads it when the store answers
                    log.warning("voicemail %s: kept on this machine until object storage answers: %s", sid, exc)

        try:
            decoded = speech.decode_audio(audio, 16_000, max_seconds=MAX_SECONDS)
        except speech.AudioUnreadable as exc:
            self._finish(vm, VoicemailStatus.UNREADABLE, detail=str(exc))
            return
        lang = self._language(vm, decoded)
        try:
            transcriber = speech.transcriber_for(lang, self.models, self.clinic.voicemail.engines.get(lang, ""))
        except (speech.TranscriberUnavailable, speech.ModelFileError) as exc:
            self._finish(vm, VoicemailStatus.NO_ENGINE, detail=str(exc), seconds=decoded.seconds)
            return
        if transcriber.sample_rate != decoded.sample_rate:
            decoded = speech.decode_audio(audio, transcriber.sample_rate, max_seconds=MAX_SECONDS)
        try:
            transcript = transcriber.transcribe(decoded)
        except Exception as exc:  # noqa: BLE001 - an engine failure must not lose the message
            if not last:
                raise TransientError(f"transcription failed ({type(exc).__name__})") from exc
            self._finish(vm, VoicemailStatus.FAILED, detail=f"transcription failed ({type(exc).__name__})")
            return
        self._transcribed(vm, transcript, speech.unclear(transcript, decoded))

    def _language(self, vm: Voicemail, audio: speech.Audio) -> str:
        """The caller's menu language; when unknown, the clinic language heard (kept on the voicemail)."""
        from ivr import speech

        languages = list(self.clinic.languages)
        if vm.lang in languages:
            return vm.lang
        heard = speech.detect_language(audio, languages, self.models, self.clinic.voicemail.engines) if len(languages) > 1 else None
        lang = heard or languages[0]
        self.store.update(vm.recording_sid, lang=lang)
        vm.lang = lang
        log.info("voicemail %s: language %s (%s)", vm.recording_sid, lang, "heard" if heard else "the clinic's first")
        return lang

    def _finish(self, vm: Voicemail, status: VoicemailStatus, detail: str = "", seconds: float = 0.0) -> None:
        self.store.update(vm.recording_sid, status=status, detail=detail, seconds=seconds)
        vm.status = status
        log.info("voicemail %s: %s", vm.recording_sid, status.value)

    def _transcribed(self, vm: Voicemail, transcript: speech.Transcript, unclear: bool = False) -> None:
        """Keep the transcript; an urgent phrase, or speech nobody could make out (``unclear``, until someone
        has listened), puts the callback with the urgent ones."""
        sid = vm.recording_sid
        found = UrgentPhrases(self.clinic.voicemail.urgent_phrases).matches(transcript.text, vm.lang, transcript.alternatives)
        why = reason(found) or (UNCLEAR_REASON if unclear and not vm.listened_at else "")
        words = json.dumps([w.as_dict() for w in transcript.words], separators=(",", ":"))
        status = VoicemailStatus.TRANSCRIBED if transcript.words or unclear else VoicemailStatus.NO_SPEECH
        if vm.callback_id:
            try:
                self.callbacks.set_transcript(
                    vm.callback_id,
                    self.sealer.seal_text(transcript.text, f"callback-transcript:{vm.callback_id}"),
                    urgent=bool(why),
                    urgent_reason=self.sealer.seal_text(why, f"callback-urgent:{vm.callback_id}"),
                )
            except UnknownCallback:
                log.warning("voicemail %s: its callback %s is gone", sid, vm.callback_id)
        self.store.update(
            sid,
            status=status,
            detail="",
            transcript=self.sealer.seal_text(transcript.text, f"transcript:{sid}"),
            words=self.sealer.seal_text(words, f"words:{sid}"),
            confidence=transcript.confidence,
            engine=transcript.engine,
            seconds=transcript.seconds,
            urgent=bool(found),
            urgent_reason=self.sealer.seal_text(reason(found), f"urgent:{sid}"),
            unclear=unclear,
        )
        vm.status = status
        log.info(
            "voicemail %s: %s by %s, %.1f s of audio%s%s",
            sid, status.value, transcript.engine, transcript.seconds, ", URGENT" if found else "", ", UNCLEAR" if unclear else "",
        )


def requeue_stalled(store: VoicemailStore, queue: Queue, attempts: int, idle_seconds: float = STALLED_SECONDS) -> int:
    """Queue again the voicemails whose job was lost (a worker killed mid-run). Returns how many."""
    count = 0
    for sid in store.unfinished(idle_seconds):
        job = Job.fetch(job_id(sid), connection=queue.connection) if Job.exists(job_id(sid), connection=queue.connection) else None
        if job is not None and job.get_status(refresh=False) in ("queued", "started", "scheduled", "deferred"):
            continue
        store.touch(sid)
        enqueue(queue, sid, attempts)
        count += 1
    return count
