"""Reports benchmark: a year of call records stored, the reports page's speed, memory per call, webhook cost.

What runs
    A real redis-server (ivr.operations.redis_server.EmbeddedRedis, Unix socket) in a temporary folder and the real
    app (``create_app``) on it, driven in-process with Flask's test client (no gunicorn: the page's own
    work and its Redis reads are what is timed).

What is measured
    1. ``--days`` (365) days of ``--per-day`` (500) calls each, packed as the status webhook packs them
       (``CallRecord`` rows of the shipped flow: outcomes, paths, languages and times drawn at random,
       seeded), plus a lifecycle row for the callbacks of 20% of the calls (``CallbackLifecycle``, as a
       callback leaves when it ends), 40 callbacks waiting now and ``--followups-per-day`` (20) follow-up
       appointments a day, their calls finished.
    2. Redis memory per stored call: INFO used_memory after loading minus before, ÷ calls (goal ≤ 300 B),
       with the callbacks' rows, and again with the past days' counts the reports keep in Redis.
    3. GET /admin/reports for the last 30 days and for 365 days (custom range), logged in as an admin:
       - the very first request, nothing counted anywhere yet (once after a deploy: every later process
         reads the past days' counts from Redis);
       - the first request of ``--fresh`` (3) fresh web processes (``create_app`` in a new Python process
         each, its caches empty, timed from the request, not the import), Redis holding the past days;
       - ``--rounds`` (20) requests after those in this process;
       p50/p95 of the fresh processes' first requests and the rounds together (goal p95 < 1 s).
    4. Webhook cost with recording on vs off, same run: ``--calls`` (300) simulated signed calls
       (greeting, a key, the desk answers, the status callback) through two apps on one Redis, one with
       ``REPORTS_RECORD_CALLS`` off, alternating in rounds of 50; p50/p99 of every webhook and of the
       status callback alone (goal: no measurable change at p99).

Run from the project root:  .venv/bin/python -m benches.reports_bench [--help]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from ivr import create_app
from ivr.operations.redis_server import EmbeddedRedis
from ivr.protection.sealing import new_key
from ivr.telephony.simulator import PhoneCall
from ivr.staff.passwords import hash_password
from ivr.store import keys
from ivr.store.call_records import CallRecord, CallRecords

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-auth-token-0123456789abcdef"
PASSWORD = "bench-password-1234"
NOW = dt.datetime(2026, 12, 4, 16, 0, tzinfo=dt.timezone.utc)  # a Friday 11:00 in the clinic


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def make_rows(rng: random.Random, flow, day: dt.date, zone, n: int) -> list[str]:
    names = list(flow.nodes)
    idx = {name: i for i, name in enumerate(names)}
    base = ["greeting", "returning_caller", "check_hours"] if "returning_caller" in idx else ["greeting", "check_hours"]
    desks = ["scheduling", "billing", "nurse", "front_desk"]
    rows = []
    for _ in range(n):
        hour = rng.choices(range(7, 20), weights=[2, 9, 10, 9, 8, 6, 7, 8, 7, 6, 4, 2, 1])[0]
        local = dt.datetime.combine(day, dt.time(hour, rng.randrange(60), rng.randrange(60)), zone)
        desk = rng.choice(desks)
        kind = rng.choices("ACVWMEG", weights=[55, 12, 8, 10, 10, 2, 3])[0]
        path = base + ["main_menu"]
        to_queue = to_person = to_promise = None
        if kind != "M":
            path.append(f"to_{desk}")
            to_queue = rng.randint(8, 25)
            if kind in "CVW":
                path.append(f"{desk}_callback_offer")
        if kind == "A":
            to_person = to_queue + rng.randint(3, 120)
        elif kind in "CV":
            to_promise = to_queue + rng.randint(25, 90)
        rec = CallRecord(
            int(local.timestamp()), flow.name, flow.version, rng.choices(["en", "es"], [8, 2])[0],
            tuple(idx[p] for p in path if p in idx), kind, "" if kind == "M" else desk, rng.randint(3, 15),
            to_queue, to_person, to_promise, rng.randint(20, 400), rng.randint(0, 3), rng.randint(0, 1), "o",
        )
        rows.append(rec.pack())
    return rows


def load_year(conn, app, days: int, per_day: int, seed: int = 7) -> int:
    svc = app.extensions["ivr"]
    clinic = svc.runtime.clinic
    flow = svc.runtime.flows.live(clinic.default_flow)
    rng = random.Random(seed)
    records = CallRecords(conn)
    today = NOW.astimezone(clinic.zone).date()
    pipe = conn.pipeline(transaction=False)
    for d in range(days):
        day = today - dt.timedelta(days=d)
        records.add_raw(day, make_rows(rng, flow, day, clinic.zone, per_day), pipe)
        if d % 20 == 19:
            pipe.execute()
    pipe.execute()
    return days * per_day


def load_callbacks(conn, app, days: int, per_day: int, seed: int = 8) -> int:
    """A lifecycle row for each ended callback (``per_day`` a day), as the callback store keeps them, and
    40 callbacks waiting now. Returns the rows stored."""
    from ivr.store.call_records import CallbackLifecycle
    from ivr.store.callbacks import CallbackQueue

    rng = random.Random(seed)
    lifecycle = CallbackLifecycle(conn)
    end = NOW.timestamp()
    desks = ["scheduling", "billing", "nurse", "front_desk"]
    rows = 0
    for i in range(per_day * days):
        requested = end - rng.uniform(0, days * 86400)
        claimed = requested + rng.uniform(60, 5400)
        lifecycle.record({
            "requested_at": str(requested), "first_claimed_at": str(claimed),
            "finished_at": str(min(end, claimed + rng.uniform(60, 3600))), "status": rng.choice(["done"] * 9 + ["closed"]),
            "outcome": "reached", "attempts": "1", "source": rng.choice(["call", "call", "voicemail"]),
            "department": rng.choice(desks),
        })
        rows += 1
    queue = CallbackQueue(conn, clock=lambda: end)
    for i in range(40):
        queue.request(rng.choice(desks), f"+1202555{i:04d}", "en", requested_at=end - rng.uniform(0, 3 * 86400))
    return rows


def admin_client(app):
    users = app.extensions["ivr"].users
    if users.get("bench") is None:  # a fresh web process logs in as the one made before
        users.add("bench", "admin", hash_password(PASSWORD))
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"csrf_token": token, "username": "bench", "password": PASSWORD})
    return client


def load_followups(conn, days: int, per_day: int, seed: int = 9) -> int:
    """Follow-up appointments of the past ``days`` (``per_day`` a day), their calls finished as the jobs finish them."""
    from ivr.followups.appointments import Appointment
    from ivr.store.followups import FollowupStore

    rng = random.Random(seed)
    store = FollowupStore(conn)
    appointments = [
        Appointment(f"bench-{i}", "Pat Doe", f"+1202555{i % 10000:04d}", NOW - dt.timedelta(hours=rng.uniform(24, days * 24)),
                    "America/New_York", "Dr. Chen", rng.choice(["scheduling", "billing", "nurse", "front_desk"]), "en")
        for i in range(days * per_day)
    ]
    store.add_many(appointments)
    for a in appointments:
        store.record_answer(a.id, "rating", str(rng.randint(1, 5)))
        store.complete(a.id, rng.choice(["reached"] * 6 + ["unreached", "message_left", "wrong_person"]))
    return len(appointments)


def drop_counts(conn) -> None:
    """Forget the past days' counts kept in Redis and this process's (the very first request after a deploy)."""
    from ivr.admin import reports

    reports._TALLIES.clear()
    for key in conn.scan_iter(keys.REPORT_TALLY.format("*")):
        conn.delete(key)


def time_page(client, query: str, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        resp = client.get(f"/admin/reports?{query}")
        out.append(time.perf_counter() - t0)
        assert resp.status_code == 200
    return out


def fresh_process_first(settings: dict, query: str) -> float:
    """The first request of a new web process: a new Python, ``create_app``, log in, then GET (timed)."""
    import json
    import subprocess

    out = subprocess.run([sys.executable, "-m", "benches.reports_bench", "--child", json.dumps({**settings, "query": query})],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    if out.returncode:
        raise SystemExit(f"the fresh web process failed:\n{out.stderr[-3000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def child(spec: str) -> int:
    import json

    settings = json.loads(spec)
    query = settings.pop("query")
    app = create_app(settings)
    app.extensions["ivr"].now = lambda: NOW
    client = admin_client(app)
    t0 = time.perf_counter()
    assert client.get(f"/admin/reports?{query}").status_code == 200
    print(time.perf_counter() - t0)
    return 0


def timed_transport(app, sink: dict):
    client = app.test_client()

    def post(url, data, headers):
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        t0 = time.perf_counter()
        resp = client.post(path, data=data, headers=headers, base_url=f"{parts.scheme}://{parts.netloc}")
        took = time.perf_counter() - t0
        sink.setdefault("all", []).append(took)
        if parts.path.endswith("/status"):
            sink.setdefault("status", []).append(took)
        return resp.status_code, resp.get_data(as_text=True)

    return post


def one_call(post, n: int, clock_state: list) -> None:
    call = PhoneCall(post, "http://localhost", TOKEN, caller=f"+1202555{n % 10000:04d}", called="+12025550199")
    clock_state[0] = NOW + dt.timedelta(seconds=n % 600)  # every call while the clinic is open
    call.start()
    clock_state[0] += dt.timedelta(seconds=8)
    call.press(str(1 + n % 3))
    clock_state[0] += dt.timedelta(seconds=70)
    call.dial_result("completed", duration=50)
    call.hang_up()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--per-day", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--fresh", type=int, default=3, help="fresh web processes timed per range")
    ap.add_argument("--followups-per-day", type=int, default=20)
    ap.add_argument("--child", help=argparse.SUPPRESS)  # one fresh web process's first request (internal)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child)
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis", appendonly=False).start()
        try:
            return run(server, Path(tmp), args)
        finally:
            server.stop()


def run(server, tmp: Path, args) -> int:
    conn = server.client()
    conn.flushall()
    base = {
        "TESTING": True, "REDIS_URL": server.url, "TWILIO_AUTH_TOKEN": TOKEN, "DATA_DIR": str(tmp / "var"),
        "DATA_KEY": new_key(), "LOG_LEVEL": "ERROR", "CONFIG_DIR": str(ROOT / "config"),
        "PROMPTS_DIR": str(ROOT / "prompts"), "REPORTS_KEEP_DAYS": 400,
    }
    clock_state = [NOW]
    apps = {}
    for name, on in (("on", True), ("off", False)):
        app = create_app({**base, "REPORTS_RECORD_CALLS": on})
        app.extensions["ivr"].now = lambda: clock_state[0]
        apps[name] = app
    app = apps["on"]

    # 4 first, on an empty Redis apart from the calls themselves: recording on vs off, alternating rounds.
    sinks = {"on": {}, "off": {}}
    posts = {name: timed_transport(a, sinks[name]) for name, a in apps.items()}
    n = 0
    for _ in range(2):  # warm-up
        for name in ("on", "off"):
            one_call(posts[name], n, clock_state)
            n += 1
    sinks["on"].clear(), sinks["off"].clear()
    per_round = 50
    for r in range(max(1, args.calls // per_round)):
        for name in (("on", "off") if r % 2 == 0 else ("off", "on")):
            for _ in range(per_round):
                one_call(posts[name], n, clock_state)
                n += 1
    conn.flushall()

    # 1-2: a year of records; memory per stored call.
    conn.config_set("save", "")
    before = int(conn.info("memory")["used_memory"])
    t0 = time.perf_counter()
    stored = load_year(conn, app, args.days, args.per_day)
    load_s = time.perf_counter() - t0
    after = int(conn.info("memory")["used_memory"])
    one_day = conn.memory_usage(keys.CALL_RECORDS.format(NOW.astimezone(app.extensions["ivr"].runtime.clinic.zone).date().isoformat()))
    row_bytes = statistics.mean(len(r) for r in conn.lrange(conn.keys(keys.CALL_RECORDS.format("*"))[0], 0, 99))
    callbacks = load_callbacks(conn, app, args.days, args.per_day // 5)
    with_callbacks = int(conn.info("memory")["used_memory"])
    followups = load_followups(conn, args.days, args.followups_per_day)  # the follow-ups' own memory is not the reports'
    with_followups = int(conn.info("memory")["used_memory"])

    # 3: the page.
    clock_state[0] = NOW
    client = admin_client(app)
    today = NOW.astimezone(app.extensions["ivr"].runtime.clinic.zone).date()
    first = today - dt.timedelta(days=args.days - 1)
    child_settings = {**base, "REPORTS_RECORD_CALLS": True}
    results = {}
    for label, query in (("30 days", "range=30"), (f"{args.days} days", f"range=custom&from={first}&to={today}")):
        drop_counts(conn)
        t0 = time.perf_counter()
        assert client.get(f"/admin/reports?{query}").status_code == 200
        very_first = time.perf_counter() - t0
        fresh = [fresh_process_first(child_settings, query) for _ in range(args.fresh)]
        warm = time_page(client, query, args.rounds if label == "30 days" else max(5, args.rounds // 2))
        results[label] = (very_first, fresh, warm)
    with_counts = int(conn.info("memory")["used_memory"])

    per_call = (after - before) / stored
    print(f"stored: {stored:,} calls ({args.days} days x {args.per_day}) in {load_s:.1f} s; packed row {row_bytes:.0f} B on average; "
          f"{callbacks:,} callbacks' lifecycle rows; {followups:,} follow-up appointments")
    print(f"Redis memory per stored call: {per_call:.0f} B (used_memory delta {after - before:,} B; "
          f"MEMORY USAGE of one day's list / calls: {one_day / args.per_day:.0f} B)   goal <= 300 B: "
          f"{'PASS' if per_call <= 300 else 'FAIL'}")
    print(f"  with the callbacks' rows: {(with_callbacks - before) / stored:.0f} B per call; and the past days' counts kept "
          f"for the reports: {(with_callbacks - before + with_counts - with_followups) / stored:.0f} B per call")
    ok = per_call <= 300
    for label, (very_first, fresh, warm) in results.items():
        together = fresh + warm
        ok = ok and pct(together, 95) < 1
        print(f"/admin/reports {label:8}: p50 {statistics.median(together) * 1000:.0f} ms  p95 {pct(together, 95) * 1000:.0f} ms "
              f"({len(fresh)} fresh processes' first requests: {', '.join(f'{f * 1000:.0f}' for f in fresh)} ms; "
              f"{len(warm)} more: p95 {pct(warm, 95) * 1000:.0f} ms)   goal p95 < 1 s: {'PASS' if pct(together, 95) < 1 else 'FAIL'}")
        print(f"    the very first request, nothing counted yet anywhere (once after a deploy): {very_first * 1000:.0f} ms")
    for what in ("all", "status"):
        on, off = sinks["on"][what], sinks["off"][what]
        print(f"webhooks ({what:6}) recording on:  p50 {statistics.median(on) * 1000:.2f} ms  p99 {pct(on, 99) * 1000:.2f} ms  ({len(on)})")
        print(f"webhooks ({what:6}) recording off: p50 {statistics.median(off) * 1000:.2f} ms  p99 {pct(off, 99) * 1000:.2f} ms  ({len(off)})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
