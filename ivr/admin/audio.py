"""Uploaded prompt recordings: decoded with pydub (ffmpeg), checked, made into what Twilio plays well.

Output: mono, 8 kHz, 16-bit PCM WAV (telephone quality; Twilio <Play>s WAV
and the phone network carries 8 kHz anyway), loudness normalised to an
average of -20 dBFS with the peaks kept under -1 dBFS.
Refused with a reason: not audio, empty, silent, longer than two minutes.

The length is bounded before anything is decoded: ffprobe reads the file's
duration (from its headers, or its size and bitrate) and a file longer than
MAX_SECONDS is refused as it is; the decoder is then told to stop one second
past MAX_SECONDS whatever the headers said (a three-hour MP3 decoded whole was
600 MB of memory).

Neither ffprobe nor ffmpeg guesses the file's kind: both are told it is the WAV or MP3 its name says
(``ivr.speech.audio.probe``), with only local protocols, so an HLS playlist named ``.mp3`` is refused
without a request to any address it lists.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from pathlib import Path

from ivr.speech.audio import probe

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # pydub imports audioop (deprecated in 3.11+)
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_SECONDS = 120
MIN_SECONDS = 0.3
SILENT_BELOW_DBFS = -55.0  # peak quieter than this: nothing anyone would hear on a phone
TARGET_DBFS = -20.0
PEAK_CEILING_DBFS = -1.0
FRAME_RATE = 8000


class AudioRejected(ValueError):
    """The upload is not a usable recording; the message says why, for the admin."""


def convert(data: bytes, filename: str = "") -> tuple[bytes, float]:
    """Check and convert an upload. Returns (WAV bytes, seconds). Raises AudioRejected."""
    if not data:
        raise AudioRejected("the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise AudioRejected(f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    fmt = None
    lower = filename.lower()
    if lower.endswith(".mp3"):
        fmt = "mp3"
    elif lower.endswith(".wav"):
        fmt = "wav"
    else:
        raise AudioRejected("only WAV and MP3 files can be uploaded")
    with tempfile.TemporaryDirectory(prefix="ivr-upload-") as folder:
        path = os.path.join(folder, f"upload.{fmt}")
        with open(path, "wb") as fh:
            fh.write(data)
        info = probe(Path(path), formats=(fmt,))
        streams = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
        if not streams:
            raise AudioRejected(f"this is not a {fmt.upper()} recording that can be read")
        probed = _seconds(info)
        if probed is not None and probed > MAX_SECONDS:
            raise AudioRejected(_too_long(probed))
        try:
            # Never more than MAX_SECONDS + 1 decoded, whatever the file's headers claim. The codec named
            # keeps pydub from running its own ffprobe, which would guess the format.
            with open(path, "rb") as fh:
                sound = AudioSegment.from_file(fh, format=fmt, codec=streams[0].get("codec_name"), duration=MAX_SECONDS + 1)
        except (CouldntDecodeError, IndexError, ValueError, OSError, EOFError) as exc:
            raise AudioRejected(f"this is not a {fmt.upper()} recording that can be read ({type(exc).__name__})") from None
    seconds = len(sound) / 1000
    if seconds < MIN_SECONDS:
        raise AudioRejected("the recording is empty (shorter than a third of a second)")
    if seconds > MAX_SECONDS:
        raise AudioRejected(_too_long(probed if probed and probed > seconds else seconds, more=probed is None or probed <= seconds))
    if sound.max_dBFS == float("-inf") or sound.max_dBFS < SILENT_BELOW_DBFS:
        raise AudioRejected("the recording is silent")
    sound = sound.set_channels(1).set_frame_rate(FRAME_RATE).set_sample_width(2)
    gain = TARGET_DBFS - sound.dBFS
    gain = min(gain, PEAK_CEILING_DBFS - sound.max_dBFS)  # never clip
    sound = sound.apply_gain(gain)
    out = io.BytesIO()
    sound.export(out, format="wav")
    return out.getvalue(), seconds


def _too_long(seconds: float, more: bool = False) -> str:
    length = f"longer than {MAX_SECONDS} seconds" if more else f"{seconds:.0f} seconds long"
    return f"the recording is {length}; prompts may be {MAX_SECONDS} seconds at most"


def _seconds(info: dict) -> float | None:
    """The duration ffprobe read from the headers (or size and bitrate); None if it could not tell."""
    try:
        value = info.get("format", {}).get("duration")
        return float(value) if value not in (None, "N/A") else None
    except (TypeError, ValueError):
        return None
