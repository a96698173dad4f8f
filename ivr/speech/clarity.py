"""Is a transcript to be trusted? A message with speech in it that the engine could not make out.

    unclear(transcript)          # True: show "unclear — listen to the recording", with the urgent ones

A voicemail whose audio holds a voice (Transcript.speech_heard: our level check and Silero's voice
detector) is unclear when its transcript is empty, or when Whisper itself doubted what it wrote: a
kept stretch whose mean token log-probability is under LOW_LOGPROB or whose compression ratio is over
HIGH_COMPRESSION (Whisper's own thresholds for a failed decoding: it retries such windows at a higher
temperature), or when most of what it heard it dropped as invented text over no speech, or when the
mean probability of its words is under LOW_CONFIDENCE: on real human telephone speech (Debian's Asterisk
prompts, 40 English and 40 Spanish of the development half, Whisper base) the lowest mean was 0.62,
while synthetic voicemails it garbled (a word error in two) came out under 0.6. An empty
transcript of audio without a voice (silence, line noise, hold music) is not unclear: nobody spoke.
Engines that report no figures (Vosk, pocketsphinx) are judged on the audio alone when it is given.
"""

from __future__ import annotations

from ivr.speech.types import Audio, Transcript

LOW_LOGPROB = -1.0
HIGH_COMPRESSION = 2.4
MOSTLY_DROPPED = 0.5  # share of the heard time dropped as no speech
LOW_CONFIDENCE = 0.6  # mean word probability of a Whisper transcript (engines with segments: Whisper's own figures)


def unclear(transcript: Transcript, audio: Audio | None = None) -> bool:
    heard = transcript.speech_heard
    if heard is None:
        if audio is None:
            return False
        from ivr.speech.audio import has_speech

        heard = bool(has_speech(audio))
    if not heard:
        return False
    if not transcript.text.strip():
        return True
    kept = [s for s in transcript.segments if s.kept]
    if any(s.avg_logprob < LOW_LOGPROB or s.compression_ratio > HIGH_COMPRESSION for s in kept):
        return True
    if kept and transcript.confidence < LOW_CONFIDENCE:
        return True
    total = sum(max(0.0, s.end - s.start) for s in transcript.segments)
    dropped = sum(max(0.0, s.end - s.start) for s in transcript.segments if not s.kept)
    return bool(total > 0 and dropped / total > MOSTLY_DROPPED)
