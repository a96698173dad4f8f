"""`ivr call`: a phone in the terminal that calls the app as Twilio does."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ivr import config as config_module
from ivr.cli.common import read_settings

HELP = "Type keys (1, 2, *, #), or words to speak, Enter for silence, 'hangup' to hang up."


@click.command()
@click.option("--url", default="http://127.0.0.1:5000", show_default=True, help="Where the app listens.")
@click.option("--from", "caller", default="+12025550123", show_default=True, help="The caller's number.")
@click.option("--to", "called", default="+12025550199", show_default=True, help="The clinic number called.")
@click.option("--token", envvar="TWILIO_AUTH_TOKEN", help="Auth token to sign with (default: TWILIO_AUTH_TOKEN, else the local one).")
def call(url: str, caller: str, called: str, token: str | None) -> None:
    """A phone in the terminal: call the app as Twilio does and hear what a caller hears."""
    from click.core import ParameterSource

    from ivr.telephony.simulator import CallError, PhoneCall, requests_transport

    if not token:
        data_dir = read_settings()["DATA_DIR"]
        signed_with = f"the local token in {Path(data_dir) / 'local-twilio-token'}"
        token = config_module.local_auth_token(data_dir)
    elif click.get_current_context().get_parameter_source("token") is ParameterSource.ENVIRONMENT:
        signed_with = "TWILIO_AUTH_TOKEN from this shell"
    else:
        signed_with = "the token given with --token"
    phone = PhoneCall(requests_transport(), url, token, caller=caller, called=called)
    # A server without a Twilio account takes a message left here from the data folder (ivr.telephony.simulator).
    local_data = read_settings()["DATA_DIR"] if signed_with.startswith("the local token") else None
    interactive = sys.stdin.isatty()
    click.echo(f"Calling {url} from {caller}. {HELP}")
    try:
        turn = phone.start()
        while True:
            _show(turn)
            if turn.waiting == "ended":
                click.echo("[the call has ended]")
                phone.hang_up()
                return
            answer = _ask(_question(turn), interactive)
            if answer is None or answer.strip().lower() in ("hangup", "hang up", "q", "quit"):
                click.echo("[you hung up]")
                phone.hang_up()
                return
            turn = _act(phone, turn, answer.strip(), local_data)
    except CallError as exc:
        click.echo(f"[call failed: {exc}]", err=True)
        if exc.status == 403:
            click.echo(
                f"The app refused the signature (signed with {signed_with}). Sign with the app's "
                "TWILIO_AUTH_TOKEN: `ivr call --token TOKEN`, or set TWILIO_AUTH_TOKEN in this shell. An app "
                "without it uses the local token in its data folder: run `ivr call` with the same IVR_DATA_DIR. "
                "An app with IVR_PUBLIC_URL checks signatures against that address: call it with --url.",
                err=True,
            )
        sys.exit(2)
    except OSError as exc:
        click.echo(f"[cannot reach {url}: {exc}] Is `ivr serve` running?", err=True)
        sys.exit(2)


def _leave_message(phone, words: str, data_dir: str):
    """Speak the typed message (espeak-ng, in the call's language) and leave it as the recording."""
    from ivr.telephony.simulator import CannotSpeak, new_sid, save_local_recording, speak

    lang = (phone.language or "en")[:2]
    try:
        audio = speak(words, lang)
    except CannotSpeak as exc:
        click.echo(f"  [{exc}: the message is left without sound]", err=True)
        return phone.record(seconds=max(2, len(words.split()) // 2))
    sid = new_sid("RE")
    save_local_recording(data_dir, sid, audio)
    seconds = max(1, round((len(audio) - 44) / 16000))
    click.echo(f"  [your message, spoken by espeak-ng ({lang}): {seconds} s; the console shows it once transcribed]")
    return phone.record(seconds=seconds, sid=sid)


def _show(turn) -> None:
    for heard in turn.heard:
        if heard.kind == "say":
            click.echo(f"  clinic ({heard.language or '?'}): {heard.text}")
        elif heard.kind == "play":
            click.echo(f"  clinic plays: {heard.text}")
        elif heard.kind == "dial":
            click.echo(f"  [ringing {heard.text}]")
        elif heard.kind == "record":
            click.echo("  [beep: recording]")


def _question(turn) -> str:
    if turn.waiting == "dial":
        return "Does the desk answer? [a]nswer / [n]o answer / [b]usy"
    if turn.waiting == "record":
        return "Speak your message (type it; Enter for silence)"
    return "keys or words"


def _ask(question: str, interactive: bool) -> str | None:
    try:
        if interactive:
            return input(f"{question} > ")
        line = sys.stdin.readline()
        if not line:
            return None
        click.echo(f"{question} > {line.rstrip()}")
        return line.rstrip("\n")
    except EOFError:
        return None


def _act(phone, turn, answer: str, local_data: str | None = None):
    if turn.waiting == "dial":
        status = {"a": "completed", "b": "busy"}.get(answer[:1].lower(), "no-answer")
        return phone.dial_result(status, duration=60 if status == "completed" else 0)
    if turn.waiting == "record":
        if not answer:
            return phone.record_nothing()
        if local_data is not None:
            return _leave_message(phone, answer, local_data)
        return phone.record(seconds=max(2, len(answer.split()) // 2))
    if not answer:
        return phone.silence()
    if all(c in "0123456789*#" for c in answer):
        return phone.press(answer)
    return phone.say(answer)


