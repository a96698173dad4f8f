"""RQ jobs (plain importable functions) and the worker entry point.

Heavy resources (speech models, later) are loaded here once per worker
process, before the fork loop, never per job.
"""

from __future__ import annotations

HIGH_QUEUE = "high"
DEFAULT_QUEUE = "default"
LOW_QUEUE = "low"
QUEUES = (HIGH_QUEUE, DEFAULT_QUEUE, LOW_QUEUE)
