"""The reports' figures, from call records: pure (no Flask, no Redis).

    counts = tally(records, definitions, node_names, zone, department, callbacks)   # one day's, or any
    report = report_of(counts.merge(other_day), definitions)

Every chart and its table (and the table's CSV) are drawn from one ``Table`` here, so they cannot
disagree. Definitions (``Definitions``) are the clinic's settings, written out by ``Definitions.text``
for the page (the README says the same).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping
from zoneinfo import ZoneInfo

from ivr.store.call_records import ABANDONED, OUTCOMES, SERVED, CallRecord  # noqa: F401

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
OPEN_WORDS = {"o": "Open", "c": "Closed", "h": "Holiday"}


@dataclass(frozen=True)
class Definitions:
    service_level_seconds: int = 60
    short_abandon_seconds: int = 5
    promises_count: str = "served"  # or "excluded"
    callback_target_minutes: int = 60

    @classmethod
    def from_config(cls, config: Mapping, callback_target_minutes: int = 60) -> "Definitions":
        promises = str(config.get("REPORTS_PROMISES_COUNT") or "served").strip().lower()
        return cls(
            service_level_seconds=int(config.get("REPORTS_SERVICE_LEVEL_SECONDS") or 60),
            short_abandon_seconds=int(config.get("REPORTS_SHORT_ABANDON_SECONDS") or 0),
            promises_count="excluded" if promises == "excluded" else "served",
            callback_target_minutes=int(callback_target_minutes),
        )

    def text(self) -> list[tuple[str, str]]:
        x, n = self.service_level_seconds, self.short_abandon_seconds
        promise = ("a callback stored or a voicemail kept within the same time counts as served"
                   if self.promises_count == "served" else "calls that ended in a callback or voicemail are left out")
        return [
            ("Reached a queue", "the call came to a desk ringing, holding, a callback offer or a voicemail tone."),
            ("Service level", f"calls that reached a person (a desk answered) within {x} s of arrival, ÷ calls that "
                              f"reached a queue; {promise}; short abandons are left out of both."),
            ("Short abandon", f"hung up within {n} s of reaching a queue (counted apart, in neither figure)."),
            ("Abandonment rate", "calls that reached a queue and hung up before a person or a promise (not short "
                                 "abandons) ÷ calls that reached a queue (not short abandons)."),
            ("Speed to a person", "seconds from arrival to a desk answering (the call's length minus the talk "
                                  "time Twilio reports); average and 90th percentile (nearest rank)."),
            ("Hung up in the menu", "ended before reaching a queue, at the step shown."),
            ("Callers waiting", "the heat maps count, by weekday and hour of arrival (clinic time), the calls that "
                                "reached a queue, and the minutes they waited there until a person, a promise or "
                                "hanging up: where more staff are needed."),
            ("Time to callback", "callbacks that ended in the range: request → the callback reached or a message "
                                 "left (done); p50/p90 and how many within the clinic's callback target "
                                 f"({self.callback_target_minutes} min), with their spread in steps. Voicemail "
                                 "response: message received → first claim by staff."),
            ("Callbacks waiting now", "waiting in line or for their next try at this moment (whatever the range), by "
                                      "the clinic day they were asked for, and how many are past the target."),
            ("Follow-up reach rate", "appointments in the range whose follow-up call reached the patient (confirmed) "
                                     "÷ those whose call was placed and ended (reached, someone else, not confirmed, "
                                     "message left, unreached)."),
        ]


@dataclass
class Table:
    key: str
    title: str
    header: list[str]
    rows: list[list] = field(default_factory=list)
    chart: str = "bars"  # bars | heat | none
    value_col: int = 1  # the column the bars show

    @property
    def max(self) -> float:
        vals = [r[self.value_col] for r in self.rows if isinstance(r[self.value_col], (int, float))]
        return max(vals + [1])


def percentile(counts: Counter, p: float) -> float | None:
    """Nearest-rank percentile of values counted as value -> how many; None for none."""
    n = sum(counts.values())
    if not n:
        return None
    rank, running = max(1, math.ceil(p / 100 * n)), 0
    for value in sorted(counts):
        running += counts[value]
        if running >= rank:
            return value
    return None  # not reached: running ends at n >= rank


def mean(counts: Counter) -> float | None:
    n = sum(counts.values())
    return round(sum(v * c for v, c in counts.items()) / n, 1) if n else None


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f}%" if d else "—"


@dataclass
class Report:
    calls: int
    summary: list[tuple[str, str, str]]  # (key, figure, value) - the headline table
    tables: dict[str, Table]
    values: dict[str, object]


COUNTERS = ("outcomes", "languages", "opened", "heat_calls", "heat_queued", "heat_wait", "funnel_heard", "funnel_left",
            "choices", "depts", "person_secs", "first_ms", "cb_done", "cb_claim", "vm_claim", "fu_where", "fu_said")
SUMS = ("calls", "queued", "short", "abandoned", "served_in", "counted", "keys", "speech", "cb_closed",
        "fu_total", "fu_called", "fu_reached")


class Tally:
    """The figures' raw counts over some records; tallies of days add up (``merge``), so a day's is kept
    (per process, and for past days in Redis: ``to_json``/``from_json``). Times are kept as Counters of
    value -> calls, so percentiles stay exact after merging."""

    def __init__(self) -> None:
        for name in COUNTERS:
            setattr(self, name, Counter())
        for name in SUMS:
            setattr(self, name, 0)
        self.settled = True  # False: some of it can still change unseen (a follow-up not finished): never kept

    def merge(self, other: "Tally") -> "Tally":
        for name in COUNTERS:
            getattr(self, name).update(getattr(other, name))
        for name in SUMS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.settled = self.settled and other.settled
        return self

    def to_json(self) -> str:
        data: dict = {name: getattr(self, name) for name in SUMS}
        for name in COUNTERS:  # pairs keep the order and tuple keys (JSON objects would not)
            data[name] = [[list(k) if isinstance(k, tuple) else k, v] for k, v in getattr(self, name).items()]
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> "Tally":
        data = json.loads(text)
        t = cls()
        for name in SUMS:
            setattr(t, name, int(data[name]))
        for name in COUNTERS:
            setattr(t, name, Counter({tuple(k) if isinstance(k, list) else k: v for k, v in data[name]}))
        return t


def tally(records: Iterable[CallRecord], definitions: Definitions, node_names: Callable[[str, str], list[str]],
          zone: ZoneInfo, department: str = "", callbacks: Iterable[dict] = ()) -> Tally:
    """The counts of ``records`` (calls) and ``callbacks`` (CallbackLifecycle rows of callbacks that ended)."""
    d = definitions
    t = Tally()
    names_cache: dict[tuple[str, str], list[str]] = {}
    walks: dict[tuple, tuple] = {}  # (flow, version, path) -> steps, steps heard, moves: paths repeat
    slots: dict[int, tuple[int, int]] = {}  # quarter hour -> (weekday, hour) in the clinic's zone
    for r in records:
        if department and r.department != department:
            continue
        t.calls += 1
        t.outcomes[r.outcome] += 1
        t.languages[r.lang or "—"] += 1
        t.opened[r.open] += 1
        quarter = r.arrived // 900  # every zone's offset is a whole number of quarter hours
        slot = slots.get(quarter)
        if slot is None:
            local = dt.datetime.fromtimestamp(quarter * 900, zone)
            slot = slots[quarter] = (local.weekday(), local.hour)
        t.heat_calls[slot] += 1
        t.keys += r.keys
        t.speech += r.speech
        if r.first_prompt_ms is not None:
            t.first_ms[r.first_prompt_ms] += 1
        t.depts[r.department or "—"] += 1
        walk = (r.flow, r.version, r.path)
        done = walks.get(walk)
        if done is None:
            names = names_cache.get((r.flow, r.version))
            if names is None:
                names = names_cache[(r.flow, r.version)] = node_names(r.flow, r.version) if r.flow else []
            steps = [f"{r.flow}: {names[i]}" if i < len(names) else f"{r.flow}: step {i}" for i in r.path]
            pairs = [(a, b.split(": ", 1)[1]) for a, b in zip(steps, steps[1:]) if a != b]
            done = walks[walk] = (steps, list(dict.fromkeys(steps)), pairs)
        steps, heard, pairs = done
        for s in heard:
            t.funnel_heard[s] += 1
        for pair in pairs:
            t.choices[pair] += 1
        if steps and r.outcome in ("M", "W", "E"):
            t.funnel_left[steps[-1]] += 1
        if r.to_person is not None:
            t.person_secs[r.to_person] += 1
        if r.to_queue is None:
            continue
        t.heat_queued[slot] += 1
        waited_until = r.to_person if r.to_person is not None else r.to_promise if r.to_promise is not None else r.to_end
        t.heat_wait[slot] += max(0, waited_until - r.to_queue)
        if r.outcome in ABANDONED and r.to_end - r.to_queue < d.short_abandon_seconds:
            t.short += 1
            continue
        t.queued += 1
        if r.outcome in ABANDONED:
            t.abandoned += 1
        promise = r.to_person is None and r.outcome in SERVED
        if promise and d.promises_count == "excluded":
            continue
        t.counted += 1
        served = r.served_seconds
        if r.outcome in SERVED and served is not None and served <= d.service_level_seconds:
            t.served_in += 1
    for c in callbacks:
        if department and c["department"] != department:
            continue
        if c["status"] == "done":
            t.cb_done[c["finished"] - c["requested"]] += 1
        elif c["status"] == "closed":
            t.cb_closed += 1
        if c["first_claimed"]:
            (t.vm_claim if c["source"] == "voicemail" else t.cb_claim)[c["first_claimed"] - c["requested"]] += 1
    return t


def _span(minutes: int) -> str:
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h"


def callback_buckets(done: Counter, target_minutes: int) -> list[list]:
    """Rows (time to callback, callbacks, share done by then) of the distribution; one edge is the target."""
    edges = sorted({15, 30, 60, 120, 240, 480, 1440, target_minutes})
    total, running, rows = sum(done.values()), 0, []
    for low, high in zip([0] + edges, edges + [None]):
        n = sum(c for s, c in done.items() if (not low or s > low * 60) and (high is None or s <= high * 60))
        running += n
        label = f"over {_span(low)}" if high is None else f"{_span(low)} to {_span(high)}" if low else f"up to {_span(high)}"
        rows.append([label + (" (the target)" if high == target_minutes else ""), n, _pct(running, total)])
    return rows


def _heat(key: str, title: str, counts: Counter, scale=lambda v: v) -> Table:
    rows = [[WEEKDAYS[w]] + [scale(counts[(w, h)]) for h in range(24)] for w in range(7)]
    return Table(key, title, ["Weekday"] + [f"{h:02d}" for h in range(24)], rows, chart="heat", value_col=0)


def report_of(t: Tally, definitions: Definitions) -> Report:
    d = definitions
    outcomes, languages, funnel_heard, funnel_left = t.outcomes, t.languages, t.funnel_heard, t.funnel_left
    calls, queued, served_in, counted = t.calls, t.queued, t.served_in, t.counted
    avg, p90 = mean(t.person_secs), percentile(t.person_secs, 90)
    cb_done, first_claim = t.cb_done, t.cb_claim + t.vm_claim
    done_n = sum(cb_done.values())
    within = sum(c for s, c in cb_done.items() if s <= d.callback_target_minutes * 60)
    values = {
        "calls": calls, "queued": queued, "short_abandons": t.short, "abandoned": t.abandoned,
        "service_level_counted": counted, "served_within": served_in,
        "answered": outcomes["A"], "callbacks": outcomes["C"], "voicemails": outcomes["V"],
        "menu_hangups": outcomes["M"], "speed_avg": avg, "speed_p90": p90, "keys": t.keys, "speech": t.speech,
        "callbacks_done": done_n, "callbacks_within_target": within, "callbacks_closed": t.cb_closed,
        "callback_p50": percentile(cb_done, 50), "callback_p90": percentile(cb_done, 90),
        "first_claim_p50": percentile(first_claim, 50), "voicemail_response_p50": percentile(t.vm_claim, 50),
        "voicemail_response_p90": percentile(t.vm_claim, 90), "first_prompt_p90_ms": percentile(t.first_ms, 90),
    }

    def secs(v):
        return "—" if v is None else f"{v:g} s"

    def mins(v):
        return "—" if v is None else f"{v / 60:.1f} min"

    summary = [
        ("calls", "Calls", str(calls)),
        ("queued", "Reached a queue (short abandons left out)", str(queued)),
        ("service_level", f"Service level ({d.service_level_seconds} s)", _pct(served_in, counted)),
        ("abandonment", "Abandonment rate", _pct(t.abandoned, queued)),
        ("short_abandons", f"Short abandons (under {d.short_abandon_seconds} s)", str(t.short)),
        ("answered", "A desk answered", str(outcomes["A"])),
        ("speed_avg", "Speed to a person, average", secs(avg)),
        ("speed_p90", "Speed to a person, 90th percentile", secs(p90)),
        ("menu_hangups", "Hung up in the menu", str(outcomes["M"])),
        ("keys_speech", "Answers by key / by speech", f"{t.keys} / {t.speech}"),
        ("first_prompt", "First prompt, 90th percentile (server time)",
         "—" if values["first_prompt_p90_ms"] is None else f"{values['first_prompt_p90_ms']} ms"),
        ("callback_p50", "Time to callback, p50", mins(values["callback_p50"])),
        ("callback_p90", "Time to callback, p90", mins(values["callback_p90"])),
        ("callbacks_within", f"Callbacks done within target ({d.callback_target_minutes} min)", f"{within} of {done_n}"),
        ("callbacks_closed", "Callbacks closed unreached", str(t.cb_closed)),
        ("first_claim_p50", "Request → first claim by staff, p50", mins(values["first_claim_p50"])),
        ("voicemail_response_p50", "Voicemail response (received → first claim), p50", mins(values["voicemail_response_p50"])),
        ("voicemail_response_p90", "Voicemail response (received → first claim), p90", mins(values["voicemail_response_p90"])),
    ]
    tables = {
        "summary": Table("summary", "Summary", ["Figure", "Value"], [[f, v] for _, f, v in summary], chart="none"),
        "outcomes": Table("outcomes", "Where calls ended", ["Outcome", "Calls", "Share"],
                          [[OUTCOMES[k], outcomes[k], _pct(outcomes[k], calls)] for k in OUTCOMES if outcomes[k]]),
        "departments": Table("departments", "Calls by department", ["Department", "Calls"],
                             [[k, v] for k, v in sorted(t.depts.items())]),
        "funnel": Table("funnel", "Menu funnel: calls that heard each step, and hung up there",
                        ["Step", "Heard", "Hung up there"],
                        [[s, funnel_heard[s], funnel_left[s]] for s in funnel_heard]),
        "choices": Table("choices", "From each step to the next (what callers pressed or said)",
                         ["Step", "Went to", "Calls"],
                         [[a, b, n] for (a, b), n in sorted(t.choices.items(), key=lambda kv: (-kv[1], kv[0]))],
                         value_col=2),
        "languages": Table("languages", "Language mix", ["Language", "Calls", "Share"],
                           [[k, v, _pct(v, calls)] for k, v in languages.most_common()]),
        "hours_open": Table("hours_open", "Open or closed when the call arrived", ["Clinic", "Calls"],
                            [[OPEN_WORDS.get(k, k), v] for k, v in sorted(t.opened.items())]),
        "heat_calls": _heat("heat_calls", "Calls by weekday and hour (clinic time)", t.heat_calls),
        "heat_queued": _heat("heat_queued", "Callers waiting: calls that reached a queue, by weekday and hour of arrival",
                             t.heat_queued),
        "heat_wait": _heat("heat_wait", "Minutes callers waited for a person or a promise, by weekday and hour of arrival",
                           t.heat_wait, lambda v: round(v / 60, 1) if v else 0),
        "callback_times": Table("callback_times", f"Time to callback, callbacks done in the range ({done_n})",
                                ["Request → reached or message left", "Callbacks", "Done by then"],
                                callback_buckets(cb_done, d.callback_target_minutes) if done_n else []),
    }
    return Report(calls, summary, tables, values)


def heat_max(table: Table) -> int:
    return max([v for r in table.rows for v in r[1:]] + [1])
