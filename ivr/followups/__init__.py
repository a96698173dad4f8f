"""Automated post-appointment follow-up calls: the pure parts.

``appointments`` reads appointments (CSV rows, JSON objects) into
:class:`Appointment` values with line-numbered errors; ``rules`` is the gate
every call passes (calling hours in the patient's local time, holidays, calls
per day and week, opt-out). Storage is ``ivr.store.followups``, the jobs are
``ivr.workers.followups`` and the webhooks ``ivr.voice.followup``.
"""
