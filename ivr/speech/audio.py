"""Turn a recording as Twilio sends it (WAV, mu-law WAV, MP3, ...) into mono 16-bit PCM for an engine.

Decoding is pydub's, which runs ffmpeg (a Debian package that scripts/bootstrap installs).

ffprobe and ffmpeg are never left to guess a file's kind on their own: a "recording" that is really an
HLS playlist (or a concat list) would make them fetch whatever addresses it names. ``probe`` reads a file
with only local protocols and a short list of audio demuxers allowed, and the decoder is then told that
format by name, so no other demuxer is tried.
"""

from __future__ import annotations

import io
import json
import math
import struct
import subprocess
import warnings
from pathlib import Path
from typing import Any

from ivr.speech.types import Audio, AudioUnreadable

with warnings.catch_warnings():  # pydub imports audioop, deprecated in Python 3.11-3.12
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError
    from pydub.utils import get_prober_name

# Containers a voicemail or a prompt may come in; no playlist, concat, image or network format.
AUDIO_FORMATS: tuple[str, ...] = ("wav", "mp3", "ogg", "flac", "gsm", "aiff", "au")
LOCAL_PROTOCOLS = "file,pipe,cache"
PROBE_TIMEOUT = 15.0  # seconds for ffprobe to read a file's headers

# Loudness: speech is brought to about this level (dBFS of its loud parts), peaks kept under PEAK_DBFS.
TARGET_DBFS = -20.0
PEAK_DBFS = -1.0
MAX_GAIN_DB = 40.0
SILENCE_DBFS = -70.0  # quieter than this throughout: left alone (no speech to bring up)


def decode_audio(data: bytes, sample_rate: int, *, max_seconds: float | None = None) -> Audio:
    """Decode ``data`` to mono 16-bit PCM at ``sample_rate``, loudness normalised.

    Only the first ``max_seconds`` are kept when given. Raises AudioUnreadable when the bytes are
    empty, not audio, or cut short; silence is not an error (it transcribes to no words).
    """
    if not data:
        raise AudioUnreadable("the recording is empty (0 bytes)")
    _check_wav_length(data)
    try:
        info = probe(data)
    except OSError as exc:  # ffprobe missing
        raise AudioUnreadable(f"could not inspect the recording: {exc}") from exc
    streams = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    if not streams:
        raise AudioUnreadable(f"not an audio file ({_what_is_it(data)})")
    codec = streams[0].get("codec_name")
    try:
        # The demuxer ffprobe found (one of AUDIO_FORMATS) is named, so ffmpeg tries no other. Naming the
        # decoder also makes pydub ask ffmpeg for 16-bit output (left to itself it takes 8-bit mu-law for
        # 8-bit PCM and keeps only 8 bits of each sample) and skips pydub's own unrestricted ffprobe.
        fmt = info["format"]["format_name"]
        segment = AudioSegment.from_file(io.BytesIO(data), format=fmt, codec=codec, duration=max_seconds)
        if segment.channels != 1 or segment.frame_rate != sample_rate or segment.sample_width != 2:
            wav = segment.export(io.BytesIO(), format="wav", parameters=["-ar", str(sample_rate), "-ac", "1", "-acodec", "pcm_s16le"])
            segment = AudioSegment.from_file(wav, format="wav")
    except (CouldntDecodeError, IndexError, struct.error) as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise AudioUnreadable(f"the {codec or 'audio'} recording could not be decoded: {first}") from exc
    if len(segment.raw_data) == 0 and (info.get("format", {}).get("duration") in (None, "0", "0.000000")):
        raise AudioUnreadable(f"the {codec} recording holds no audio samples")
    segment = normalise_loudness(segment)
    pcm = segment.raw_data
    return Audio(pcm=pcm, sample_rate=sample_rate, seconds=len(pcm) / 2 / sample_rate)


def probe(source: bytes | Path, formats: tuple[str, ...] = AUDIO_FORMATS) -> dict[str, Any]:
    """ffprobe's JSON (``format``, ``streams``) for ``source`` (bytes, read from a pipe, or a local file),
    read as one of ``formats``.

    Only local protocols are allowed, so nothing a file says can make ffprobe open an address.
    ``{}`` when the data is none of ``formats`` (or ffprobe cannot read it); OSError when ffprobe is missing.
    """
    target, data = ("pipe:0", source) if isinstance(source, bytes) else (f"file:{Path(source).resolve()}", None)
    command = [get_prober_name(), "-v", "error", "-protocol_whitelist", LOCAL_PROTOCOLS,
               "-format_whitelist", ",".join(formats), "-of", "json", "-show_format", "-show_streams", target]
    try:
        done = subprocess.run(command, input=data, stdin=None if data is not None else subprocess.DEVNULL,
                              capture_output=True, timeout=PROBE_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return {}
    try:
        info = json.loads(done.stdout.decode("utf-8", "replace") or "{}")
    except ValueError:
        return {}
    name = info.get("format", {}).get("format_name")
    return info if done.returncode == 0 and name in formats else {}


SPEECH_ABOVE_FLOOR_DB = 9.0  # a frame this much louder than the recording's quiet frames may be speech
MIN_SPEECH_SECONDS = 0.3


def has_speech(audio: Audio) -> bool:
    """Whether anything rises above the recording's own noise floor for at least MIN_SPEECH_SECONDS.

    Engines make words out of nothing (pocketsphinx reads digital silence as "dog"); steady line
    noise, however loud after normalisation, stays within a dB or two of its floor, while speech
    has syllables and pauses. Measured on 20 ms frames; the floor is the 10th percentile.
    """
    import numpy as np

    samples = np.frombuffer(audio.pcm[: len(audio.pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    n = max(1, audio.sample_rate // 50)
    frames = len(samples) // n
    if not frames:
        return False
    rms = np.sqrt((samples[: frames * n].reshape(frames, n) ** 2).mean(axis=1))
    levels = np.full(frames, -120.0)
    np.log10(rms / 32768, out=levels, where=rms > 0)
    levels = np.where(rms > 0, 20 * levels, -120.0)
    floor = np.sort(levels)[frames // 10]
    loud = int(np.count_nonzero((levels >= floor + SPEECH_ABOVE_FLOOR_DB) & (levels > -60)))
    return loud * n / audio.sample_rate >= MIN_SPEECH_SECONDS


PAUSE_SECONDS = 0.3  # the stretch of quiet a cut is placed in


def pause_cuts(audio: Audio, longest: float) -> list[float]:
    """Where to cut a recording into pieces of at most ``longest`` seconds: [0.0, t1, ..., seconds].

    Each cut is made in the quietest PAUSE_SECONDS of the second half of its piece (energy of 10 ms
    frames), so it falls in a pause between words rather than through one, and leaves at least half
    of ``longest`` after it. A recording no longer than ``longest`` is one piece.
    """
    import numpy as np

    samples = np.frombuffer(audio.pcm[: len(audio.pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    step = max(1, audio.sample_rate // 100)
    frames = len(samples) // step
    limit = int(longest * 100)
    cuts = [0.0]
    if frames <= limit:
        return cuts + [audio.seconds]
    energy = (samples[: frames * step].reshape(frames, step) ** 2).mean(axis=1)
    width = max(1, int(PAUSE_SECONDS * 100))
    quiet = np.convolve(energy, np.ones(width) / width, mode="same")
    start = 0
    while frames - start > limit:
        low, high = start + limit // 2, min(start + limit, frames - limit // 2)  # no scrap of a last piece
        start = low + int(np.argmin(quiet[low:high]))
        cuts.append(start / 100)
    return cuts + [audio.seconds]


def cut(audio: Audio, start: float, end: float) -> Audio:
    """The part of ``audio`` from ``start`` to ``end`` seconds."""
    first, last = (int(round(t * audio.sample_rate)) * 2 for t in (start, end))
    pcm = audio.pcm[first:last]
    return Audio(pcm=pcm, sample_rate=audio.sample_rate, seconds=len(pcm) / 2 / audio.sample_rate)


def normalise_loudness(segment: AudioSegment) -> AudioSegment:
    """Bring speech to TARGET_DBFS (measured on its loudest 30% of 20 ms frames), peaks under PEAK_DBFS."""
    if segment.max == 0 or len(segment) < 20:
        return segment
    frame_levels = sorted((f.rms for f in segment[::20]), reverse=True)
    loud = frame_levels[: max(1, len(frame_levels) * 3 // 10)]
    rms = math.sqrt(sum(r * r for r in loud) / len(loud))
    full_scale = float(1 << (8 * segment.sample_width - 1))
    level = 20 * math.log10(rms / full_scale) if rms else -math.inf
    if level < SILENCE_DBFS:
        return segment
    gain = min(TARGET_DBFS - level, PEAK_DBFS - segment.max_dBFS, MAX_GAIN_DB)
    return segment.apply_gain(gain) if abs(gain) >= 0.5 else segment


def _check_wav_length(data: bytes) -> None:
    """A RIFF WAV whose data chunk is shorter than its header says was cut short (e.g. a broken download)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if chunk == b"data":
            have = len(data) - pos - 8
            if 0 < size < 0x7FFFF000 and have < size:  # 0 and 0x7FFFF000+: length unknown (a stream)
                raise AudioUnreadable(f"the WAV file is cut short: it has {have} of the {size} bytes of audio its header announces")
            return
        pos += 8 + size + (size & 1)
    raise AudioUnreadable("the WAV file has no audio data (no data chunk; cut short?)")


def _what_is_it(data: bytes) -> str:
    head = data[:512]
    if data[:4] == b"RIFF":
        return "a RIFF file ffmpeg cannot read"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return f"{len(data)} bytes of unknown binary data"
    return f"it looks like text: {head[:40].decode('utf-8', 'replace')!r}"
