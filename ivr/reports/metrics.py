"""Prometheus families for the reports' figures, from the counters call records add to (``REPORT_TOTALS``).

    ivr_report_calls_total{outcome, department}        every recorded call by where it ended
    ivr_report_queued_total{department}                 reached a queue (short abandons too)
    ivr_report_abandoned_total{department}              reached a queue, hung up before a person or a promise
    ivr_report_served_total{department}                 a person or a promise
    ivr_report_served_within_target_total{department}   ... within REPORTS_SERVICE_LEVEL_SECONDS
    ivr_report_time_to_person_seconds{kind, department} histogram: arrival -> a person (kind=person) or a promise
    ivr_report_callbacks_ended_total{status, department} callbacks that ended: done (reached or message left) or closed
    ivr_report_time_to_callback_seconds{department}     histogram: callback requested -> done

Service level in PromQL: ``served_within_target / queued`` over a window (``increase``). Labels are
outcome codes' words and department names from the clinic's settings only (``ivr.operations.metrics._label``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

import redis

from ivr.store import keys
from ivr.store.call_records import BUCKETS, CALLBACK_BUCKETS, OUTCOMES

OUTCOME_LABELS = {
    "A": "answered", "C": "callback", "V": "voicemail", "E": "voicemail_empty", "W": "abandoned_waiting",
    "M": "abandoned_menu", "G": "goodbye", "F": "fallback", "X": "emergency", "N": "no_state",
}
assert set(OUTCOME_LABELS) == set(OUTCOMES)


def families(conn: redis.Redis, label=lambda v: v) -> Iterable:
    from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

    raw = {k.decode(): int(v) for k, v in conn.hgetall(keys.REPORT_TOTALS).items()}
    calls = CounterMetricFamily("ivr_report_calls", "Recorded calls by where they ended", labels=["outcome", "department"])
    simple = {
        name: CounterMetricFamily(f"ivr_report_{metric}", text, labels=["department"])
        for name, metric, text in (
            ("queued", "queued", "Calls that reached a queue (desk ringing, hold, callback offer, voicemail)"),
            ("abandoned", "abandoned", "Calls that reached a queue and hung up before a person or a promise"),
            ("served", "served", "Calls that reached a person or a callback/voicemail promise"),
            ("served_in_sl", "served_within_target", "Served within the service-level time (REPORTS_SERVICE_LEVEL_SECONDS)"),
        )
    }
    ended = CounterMetricFamily("ivr_report_callbacks_ended", "Callbacks that ended: done (reached or message left) or closed",
                                labels=["status", "department"])
    buckets: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    sums: dict[tuple[str, str], int] = defaultdict(int)
    cb_buckets: dict[str, dict[str, int]] = defaultdict(dict)
    cb_sums: dict[str, int] = defaultdict(int)
    for name, value in raw.items():
        parts = name.split("|")
        if parts[0] == "calls" and len(parts) == 3:
            calls.add_metric([OUTCOME_LABELS.get(parts[1], "other"), label(parts[2])], value)
        elif parts[0] in simple and len(parts) == 2:
            simple[parts[0]].add_metric([label(parts[1])], value)
        elif parts[0] == "ttp" and len(parts) == 4:
            buckets[(parts[1], label(parts[2]))][parts[3]] = value
        elif parts[0] == "ttp_sum" and len(parts) == 3:
            sums[(parts[1], label(parts[2]))] += value
        elif parts[0] == "cb" and len(parts) == 3:
            ended.add_metric([parts[1], label(parts[2])], value)
        elif parts[0] == "ttc" and len(parts) == 3:
            cb_buckets[label(parts[1])][parts[2]] = value
        elif parts[0] == "ttc_sum" and len(parts) == 2:
            cb_sums[label(parts[1])] += value
    hist = HistogramMetricFamily("ivr_report_time_to_person_seconds",
                                 "Arrival to a person (kind=person) or to a callback/voicemail promise (kind=promise)",
                                 labels=["kind", "department"])
    for (kind, dept), counts in sorted(buckets.items()):
        hist.add_metric([kind, dept], _cumulative(counts, BUCKETS), sum_value=sums[(kind, dept)])
    to_callback = HistogramMetricFamily("ivr_report_time_to_callback_seconds",
                                        "Callback requested to reached or message left (callbacks done)", labels=["department"])
    for dept, counts in sorted(cb_buckets.items()):
        to_callback.add_metric([dept], _cumulative(counts, CALLBACK_BUCKETS), sum_value=cb_sums[dept])
    yield calls
    yield from simple.values()
    yield hist
    yield ended
    yield to_callback


def _cumulative(counts: dict[str, int], edges) -> list[tuple[str, int]]:
    running, out = 0, []
    for b in edges:
        running += counts.get(str(b), 0)
        out.append((str(float(b)), running))
    return out + [("+Inf", running + counts.get("inf", 0))]
