"""RQ jobs (plain importable functions) and the worker entry point.

Voicemail jobs have their own queue, ``speech``, worked by speech workers
(``ivr worker --speech``): they load the speech models once and run jobs in
their own process, because a model's threads do not survive RQ's fork per job.
"""

from __future__ import annotations

HIGH_QUEUE = "high"
DEFAULT_QUEUE = "default"
LOW_QUEUE = "low"
QUEUES = (HIGH_QUEUE, DEFAULT_QUEUE, LOW_QUEUE)
SPEECH_QUEUE = "speech"  # voicemails: fetched, kept and transcribed by speech workers
