"""The callback queue on a real Redis: places in line, atomic claims, leases, retries, history, figures."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from zoneinfo import ZoneInfo

import pytest
import redis

from ivr.clinic.calling_hours import CallingHours
from ivr.clinic.settings import load_clinic
from ivr.clinic.hours import Span
from ivr.operations.redis_server import EmbeddedRedis
from ivr.store import keys
from ivr.store.callback_types import (
    DEFAULT_HANDLING_SECONDS,
    HoldsTooMany,
    LeaseExpired,
    NotClaimed,
    Outcome,
    Placed,
    RetryPolicy,
    Status,
    UnknownCallback,
)
from ivr.store.callbacks import CallbackQueue

from .conftest import ROOT

NY = ZoneInfo("America/New_York")
UTC = dt.timezone.utc
LEASE = 600


def ny(*args) -> float:
    return dt.datetime(*args, tzinfo=NY).timestamp()


T0 = ny(2026, 11, 24, 10, 0)  # a Tuesday morning


def phone(n: int) -> str:
    return f"+1202555{n:04d}"


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(redis_conn, clock) -> CallbackQueue:
    return CallbackQueue(redis_conn, lease_seconds=LEASE, clock=clock)


def retry_policy(attempts: int = 3, spacing_minutes: int = 30, holidays=()) -> RetryPolicy:
    hours = CallingHours(NY, Span.parse("09:00-20:00"), frozenset(holidays))
    return RetryPolicy(attempts, spacing_minutes * 60, hours)


def ids(callbacks) -> list[str]:
    return [cb.id for cb in callbacks]


def line_up(queue: CallbackQueue, clock: FakeClock, n: int, department: str = "nurse") -> list[Placed]:
    """``n`` patients (phone(0)...) asking one second apart, starting a second from now."""
    placed = []
    for i in range(n):
        clock.advance(1)
        placed.append(queue.request(department, phone(i), "en"))
    return placed


# Joining the queue ------------------------------------------------------------------


def test_request_puts_the_patient_at_the_end_of_the_line(queue, clock):
    placed = line_up(queue, clock, 3)
    assert [p.created for p in placed] == [True, True, True]
    assert [p.position for p in placed] == [1, 2, 3]
    first = queue.get(placed[0].callback.id)
    assert first == placed[0].callback
    assert first.status is Status.WAITING and first.requested_at == T0 + 1 and first.lang == "en"
    assert first.masked_phone() == "(•••) •••-0000"
    assert queue.waiting_count("nurse") == 3 and queue.waiting_count("billing") == 0


def test_same_number_keeps_its_earlier_place_and_is_told_so(queue, clock):
    first = queue.request("nurse", phone(1), "en")
    clock.advance(60)
    queue.request("nurse", phone(2), "en")
    clock.advance(60)
    again = queue.request("nurse", phone(1), "es", call_sid="CA-second-call")
    assert again.created is False
    assert again.callback.id == first.callback.id
    assert again.position == 1
    assert again.callback.requested_at == T0 and again.callback.lang == "en"
    assert queue.waiting_count("nurse") == 2
    # Another department is another line.
    other = queue.request("billing", phone(1), "en")
    assert other.created is True and other.callback.id != first.callback.id


def test_a_number_being_called_is_not_queued_twice(queue):
    first = queue.request("nurse", phone(1), "en")
    queue.claim_next(["nurse"], "alice")
    again = queue.request("nurse", phone(1), "en")
    assert (again.created, again.callback.id, again.callback.status) == (False, first.callback.id, Status.CLAIMED)
    assert queue.waiting_count("nurse") == 0


def test_a_finished_callback_does_not_block_a_new_request(queue):
    first = queue.request("nurse", phone(1), "en")
    queue.claim_next(["nurse"], "alice")
    queue.finish(first.callback.id, "alice", Outcome.REACHED)
    again = queue.request("nurse", phone(1), "en")
    assert again.created is True and again.callback.id != first.callback.id


def test_replayed_webhook_returns_the_first_request(queue, clock):
    first = queue.request("nurse", phone(1), "en", call_sid="CA123")
    clock.advance(1)
    replay = queue.request("nurse", phone(1), "en", call_sid="CA123")
    assert (replay.created, replay.callback.id) == (False, first.callback.id)
    # Even after it was handled: a replay never creates a second request.
    queue.claim_next(["nurse"], "alice")
    queue.finish(first.callback.id, "alice", Outcome.REACHED)
    replay = queue.request("nurse", phone(1), "en", call_sid="CA123")
    assert (replay.created, replay.callback.id, replay.callback.status) == (False, first.callback.id, Status.DONE)
    assert queue.waiting_count("nurse") == 0
    # The same call asking another department is a different request.
    assert queue.request("billing", phone(1), "en", call_sid="CA123").created is True


def test_urgent_first_then_oldest(queue, clock):
    a = queue.request("nurse", phone(1), "en").callback  # T0
    clock.advance(10)
    b = queue.request("nurse", phone(2), "en", urgent=True, urgent_reason="chest pain").callback  # T0+10
    clock.advance(10)
    c = queue.request("nurse", phone(3), "en").callback  # T0+20
    clock.advance(10)
    d = queue.request("nurse", phone(4), "en", urgent=True).callback  # T0+30
    e = queue.request("nurse", phone(5), "en", requested_at=T0 - 100, source="voicemail").callback  # older
    assert ids(queue.waiting("nurse")) == [b.id, d.id, e.id, a.id, c.id]
    assert [queue.position(x.id) for x in (b, d, e, a, c)] == [1, 2, 3, 4, 5]
    assert ids(queue.waiting("nurse", limit=2, offset=2)) == [e.id, a.id]
    claimed = [queue.claim_next(["nurse"], "alice").id for _ in range(5)]
    assert claimed == [b.id, d.id, e.id, a.id, c.id]
    assert queue.claim_next(["nurse"], "alice") is None


def test_claim_takes_the_best_head_across_the_staff_departments(queue, clock):
    nurse = queue.request("nurse", phone(1), "en").callback
    clock.advance(10)
    on_call = queue.request("on_call_nurse", phone(2), "en").callback
    clock.advance(10)
    billing_older = queue.request("billing", phone(3), "en", requested_at=T0 - 3600).callback
    urgent = queue.request("on_call_nurse", phone(4), "en", urgent=True).callback
    nurses = ["nurse", "on_call_nurse"]
    assert ids([queue.claim_next(nurses, "n1") for _ in range(3)]) == [urgent.id, nurse.id, on_call.id]
    assert queue.claim_next(nurses, "n1") is None
    assert queue.claim_next(["billing"], "b1").id == billing_older.id
    assert queue.claim_next([], "b1") is None


def test_transcript_marked_urgent_moves_to_the_front(queue, clock):
    queue.request("nurse", phone(1), "en")
    clock.advance(10)
    vm = queue.request("nurse", phone(2), "en", source="voicemail", reason_recording_sid="RE1").callback
    assert queue.position(vm.id) == 2
    queue.set_transcript(vm.id, "I have chest pain", urgent=True, urgent_reason="chest pain")
    got = queue.get(vm.id)
    assert (got.reason_transcript, got.urgent, got.urgent_reason) == ("I have chest pain", True, "chest pain")
    assert queue.position(vm.id) == 1
    # A later non-urgent transcript does not demote it.
    queue.set_transcript(vm.id, "corrected text")
    assert queue.get(vm.id).urgent and queue.position(vm.id) == 1
    with pytest.raises(UnknownCallback):
        queue.set_transcript("nope", "text")


def test_set_transcript_can_be_batched_in_a_pipeline(queue, redis_conn):
    a = queue.request("nurse", phone(1), "en").callback
    b = queue.request("nurse", phone(2), "en").callback
    pipe = redis_conn.pipeline()
    queue.set_transcript(a.id, "refill", pipeline=pipe)
    queue.set_transcript(b.id, "results", pipeline=pipe)
    assert queue.get(a.id).reason_transcript == ""
    pipe.execute()
    assert (queue.get(a.id).reason_transcript, queue.get(b.id).reason_transcript) == ("refill", "results")


# Claims are atomic --------------------------------------------------------------------


def _claim_until_empty(url: str, departments: list[str], staff: str) -> list[str]:
    """Worker: its own connection; claims as fast as it can until the queues are empty."""
    queue = CallbackQueue(redis.Redis.from_url(url))
    got = []
    while (cb := queue.claim_next(departments, staff)) is not None:
        got.append(cb.id)
    return got


def _claim_one(url: str, staff: str, most: int) -> str:
    """Worker: one "Take next" with a limit; the callback's id, or "refused"."""
    try:
        cb = CallbackQueue(redis.Redis.from_url(url)).claim_next(["nurse"], staff, most=most)
    except HoldsTooMany:
        return "refused"
    return cb.id if cb else "nobody"


def _request_same_number(url: str, n: int) -> tuple[str, bool]:
    placed = CallbackQueue(redis.Redis.from_url(url)).request("nurse", "+12025550999", "en", call_sid=f"CA{n}")
    return placed.callback.id, placed.created


def _racer(n: int, work, args: tuple, barrier, results) -> None:
    """Runs in a fresh process: wait until every racer is ready, then go."""
    barrier.wait(timeout=60)
    results.put((n, work(*args)))


def race(work, jobs: list[tuple]) -> list:
    """Run ``work(*args)`` for each job in its own process, all starting together; results in job order."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(jobs)), ctx.Queue()
    procs = [ctx.Process(target=_racer, args=(n, work, args, barrier, results)) for n, args in enumerate(jobs)]
    for proc in procs:
        proc.start()
    try:
        out = dict(results.get(timeout=120) for _ in procs)
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
    return [out[n] for n in range(len(jobs))]


def test_racing_processes_claim_each_callback_exactly_once(redis_server, redis_conn):
    queue = CallbackQueue(redis_conn)
    departments = ["nurse", "on_call_nurse", "billing"]
    created = {queue.request(departments[i % 3], phone(i), "en").callback.id for i in range(200)}
    results = race(_claim_until_empty, [(redis_server.url, departments, f"staff{n}") for n in range(6)])
    claimed = [cid for result in results for cid in result]
    assert len(claimed) == len(set(claimed)) == 200
    assert set(claimed) == created
    for n, result in enumerate(results):
        assert {cb.id for cb in queue.claimed_by(f"staff{n}")} == set(result)
    assert sum(1 for r in results if r) > 1, "the processes did not actually race"
    assert all(queue.waiting_count(d) == 0 for d in departments)


def test_one_nurse_taking_next_in_six_tabs_at_once_gets_one_callback(redis_server, redis_conn):
    """The claim limit is decided in the claim's script: no second claim to hand back after the fact."""
    queue = CallbackQueue(redis_conn)
    for i in range(10):
        queue.request("nurse", phone(i), "en")
    results = race(_claim_one, [(redis_server.url, "nina", 1)] * 6)
    assert sorted(r == "refused" for r in results) == [False] + [True] * 5, results
    [held] = queue.claimed_by("nina")
    assert held.id in results
    assert queue.waiting_count("nurse") == 9
    with pytest.raises(HoldsTooMany):
        queue.claim_next(["nurse"], "nina", most=1)
    assert queue.claim_next(["nurse"], "nina", most=2) is not None  # a higher limit lets her take one more


def test_racing_requests_from_one_number_make_one_callback(redis_server, redis_conn):
    results = race(_request_same_number, [(redis_server.url, n) for n in range(4)])
    assert len({cid for cid, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert CallbackQueue(redis_conn).waiting_count("nurse") == 1


# Leases ------------------------------------------------------------------------------------


def test_expired_lease_returns_to_its_original_place(queue, clock):
    a, b, c = (p.callback for p in line_up(queue, clock, 3))
    taken = queue.claim_next(["nurse"], "alice")
    assert taken.id == a.id and taken.lease_until == clock.now + LEASE
    assert queue.position(a.id) is None and queue.position(b.id) == 1
    clock.advance(LEASE - 1)
    assert queue.release_expired() == 0
    clock.advance(1)  # the lease ends now
    with pytest.raises(LeaseExpired):
        queue.finish(a.id, "alice", Outcome.REACHED)
    late = queue.request("nurse", phone(9), "en").callback
    assert queue.release_expired() == 1
    assert ids(queue.waiting("nurse")) == [a.id, b.id, c.id, late.id]
    back = queue.get(a.id)
    assert (back.status, back.claimed_by, back.requested_at) == (Status.WAITING, "", a.requested_at)
    assert queue.claimed_by("alice") == []
    assert queue.claim_next(["nurse"], "bob").id == a.id
    assert [e["event"] for e in queue.history(phone(0))][:3] == ["claimed", "lease_expired", "claimed"]


def test_claim_next_itself_returns_expired_leases_first(queue, clock):
    a = queue.request("nurse", phone(1), "en").callback
    clock.advance(1)
    b = queue.request("nurse", phone(2), "en").callback
    queue.claim_next(["nurse"], "alice")
    clock.advance(LEASE + 1)
    # No periodic job ran: bob still gets the older one, not b.
    assert queue.claim_next(["nurse"], "bob").id == a.id
    assert queue.position(b.id) == 1
    with pytest.raises(NotClaimed):
        queue.finish(a.id, "alice", Outcome.REACHED)


def test_renew_extends_only_the_holders_live_claim(queue, clock):
    a = queue.request("nurse", phone(1), "en").callback
    queue.claim_next(["nurse"], "alice")
    clock.advance(LEASE - 100)
    assert queue.renew(a.id, "bob") is False
    assert queue.renew(a.id, "alice") is True
    assert queue.get(a.id).lease_until == clock.now + LEASE
    clock.advance(300)  # past the first lease, inside the renewed one
    assert queue.release_expired() == 0
    assert queue.finish(a.id, "alice", Outcome.REACHED).status is Status.DONE
    assert queue.renew(a.id, "alice") is False  # finished
    b = queue.request("nurse", phone(2), "en").callback
    queue.claim_next(["nurse"], "alice")
    clock.advance(LEASE)
    assert queue.renew(b.id, "alice") is False  # expired: too late


def test_release_gives_it_back_at_its_place(queue, clock):
    a = queue.request("nurse", phone(1), "en").callback
    clock.advance(1)
    b = queue.request("nurse", phone(2), "en").callback
    queue.claim_next(["nurse"], "alice")
    assert [cb.id for cb in queue.claimed_by("alice")] == [a.id]
    assert queue.release(a.id, "bob") is False
    assert queue.release(a.id, "alice") is True
    assert queue.release(a.id, "alice") is False
    assert ids(queue.waiting("nurse")) == [a.id, b.id]
    assert queue.claimed_by("alice") == []
    assert queue.get(a.id).status is Status.WAITING


def test_finish_is_refused_to_anyone_but_the_holder(queue):
    a = queue.request("nurse", phone(1), "en").callback
    with pytest.raises(NotClaimed):
        queue.finish(a.id, "alice", Outcome.REACHED)  # waiting, nobody holds it
    queue.claim_next(["nurse"], "alice")
    with pytest.raises(NotClaimed, match="not claimed by bob"):
        queue.finish(a.id, "bob", Outcome.REACHED)
    with pytest.raises(UnknownCallback):
        queue.finish("0123456789abcdef", "alice", Outcome.REACHED)
    assert queue.finish(a.id, "alice", Outcome.LEFT_MESSAGE, note="left vm").status is Status.DONE
    with pytest.raises(NotClaimed):
        queue.finish(a.id, "alice", Outcome.REACHED)  # already finished


def test_outcomes(queue):
    done = {}
    for i, outcome in enumerate([Outcome.REACHED, Outcome.LEFT_MESSAGE, Outcome.WRONG_NUMBER]):
        cid = queue.request("nurse", phone(i), "en").callback.id
        queue.claim_next(["nurse"], "alice")
        done[outcome] = queue.finish(cid, "alice", outcome, note="n")
    assert done[Outcome.REACHED].status is Status.DONE
    assert done[Outcome.LEFT_MESSAGE].status is Status.DONE
    assert done[Outcome.WRONG_NUMBER].status is Status.CLOSED
    assert all(cb.outcome == o.value and cb.note == "n" and cb.finished_at == T0 for o, cb in done.items())
    assert queue.claimed_by("alice") == []


# Retries -------------------------------------------------------------------------------------


def finish_no_answer(queue, clock, when: float, cid: str, policy: RetryPolicy, staff: str = "alice"):
    clock.now = when
    got = queue.claim_next(["nurse"], staff)
    assert got is not None and got.id == cid
    return queue.finish(cid, staff, Outcome.NO_ANSWER, retry=policy)


def test_no_answer_late_in_the_day_retries_next_morning(queue, clock):
    a = queue.request("nurse", phone(1), "en").callback
    cb = finish_no_answer(queue, clock, ny(2026, 11, 24, 19, 50), a.id, retry_policy())
    assert (cb.status, cb.attempts, cb.outcome) == (Status.SCHEDULED, 1, "no_answer")
    assert cb.not_before == ny(2026, 11, 25, 9, 0)
    assert queue.position(a.id) is None and queue.waiting_count("nurse") == 0
    assert ids(queue.scheduled("nurse")) == [a.id]
    assert [e["event"] for e in queue.history(phone(1))][:2] == ["retry_scheduled", "outcome"]


def test_retry_comes_back_only_when_due_and_at_its_original_place(queue, clock):
    a = queue.request("nurse", phone(1), "en").callback  # T0 10:00
    finish_no_answer(queue, clock, T0 + 60, a.id, retry_policy())  # due 10:31
    clock.now = T0 + 120
    b = queue.request("nurse", phone(2), "en").callback
    assert queue.claim_next(["nurse"], "bob").id == b.id
    queue.release(b.id, "bob")
    clock.now = T0 + 60 + 1799
    assert queue.release_expired() == 0 and queue.position(a.id) is None
    clock.now = T0 + 60 + 1800
    assert queue.claim_next(["nurse"], "bob").id == a.id  # ahead of b: requested earlier
    assert queue.get(a.id).attempts == 1


def test_retry_skips_holidays_and_keeps_local_time_across_dst(queue, clock):
    thanksgiving = dt.date(2026, 11, 26)
    policy = retry_policy(holidays=[thanksgiving])
    clock.now = ny(2026, 11, 25, 9, 0)
    a = queue.request("nurse", phone(1), "en").callback
    cb = finish_no_answer(queue, clock, ny(2026, 11, 25, 19, 50), a.id, policy)
    assert cb.not_before == ny(2026, 11, 27, 9, 0)  # Wednesday evening -> Friday
    # The Saturday before clocks go forward (2026-03-08): 09:00 EDT on Sunday is 13:00Z, not 14:00Z.
    clock.now = ny(2026, 3, 7, 9, 0)
    b = queue.request("billing", phone(2), "en").callback
    clock.now = ny(2026, 3, 7, 19, 50)
    queue.claim_next(["billing"], "carol")
    cb = queue.finish(b.id, "carol", Outcome.NO_ANSWER, retry=policy)
    assert dt.datetime.fromtimestamp(cb.not_before, UTC) == dt.datetime(2026, 3, 8, 13, 0, tzinfo=UTC)


def test_closes_with_a_note_after_the_last_attempt(queue, clock):
    a = queue.request("nurse", phone(1), "en").callback
    policy = retry_policy(attempts=3)
    cb = finish_no_answer(queue, clock, T0 + 10, a.id, policy)
    cb = finish_no_answer(queue, clock, cb.not_before, a.id, policy)
    assert (cb.status, cb.attempts) == (Status.SCHEDULED, 2)
    clock.now = cb.not_before
    queue.claim_next(["nurse"], "alice")
    cb = queue.finish(a.id, "alice", Outcome.NO_ANSWER, note="voicemail full", retry=policy)
    assert (cb.status, cb.attempts) == (Status.CLOSED, 3)
    assert cb.note == "no answer after 3 attempts; voicemail full"
    assert queue.claim_next(["nurse"], "alice") is None
    assert queue.history(phone(1))[0] == {
        "event": "closed", "id": a.id, "department": "nurse", "at": pytest.approx(clock.now), "note": cb.note
    }
    assert queue.stats("nurse")["abandoned"] == 1
    assert queue.request("nurse", phone(1), "en").created is True  # the number is free again


def test_no_answer_without_a_policy_closes_at_once(queue):
    a = queue.request("nurse", phone(1), "en").callback
    queue.claim_next(["nurse"], "alice")
    cb = queue.finish(a.id, "alice", Outcome.NO_ANSWER)
    assert (cb.status, cb.note) == (Status.CLOSED, "no answer after 1 attempt")


def test_calling_again_while_a_retry_is_scheduled_puts_it_back_in_line(queue, clock):
    a = queue.request("nurse", phone(1), "en").callback
    clock.advance(1)
    b = queue.request("nurse", phone(2), "en").callback
    finish_no_answer(queue, clock, T0 + 60, a.id, retry_policy())
    clock.now = T0 + 120
    again = queue.request("nurse", phone(1), "en")
    assert (again.created, again.callback.id, again.position) == (False, a.id, 1)
    assert queue.get(a.id).status is Status.WAITING
    assert ids(queue.waiting("nurse")) == [a.id, b.id]
    assert queue.scheduled("nurse") == []


# History ---------------------------------------------------------------------------------------


def test_history_per_number_across_departments(queue, clock):
    nurse = queue.request("nurse", phone(1), "en").callback
    clock.advance(10)
    queue.request("nurse", phone(2), "en")
    clock.advance(10)
    billing = queue.request("billing", phone(1), "en").callback
    clock.advance(10)
    queue.claim_next(["billing"], "bob")
    clock.advance(10)
    queue.finish(billing.id, "bob", Outcome.REACHED, note="paid")
    clock.advance(10)
    queue.claim_next(["nurse"], "alice")
    events = queue.history(phone(1))
    assert [(e["event"], e["department"]) for e in events] == [
        ("claimed", "nurse"),
        ("outcome", "billing"),
        ("claimed", "billing"),
        ("requested", "billing"),
        ("requested", "nurse"),
    ]
    assert events[0]["id"] == nurse.id and events[0]["staff"] == "alice"
    assert events[1]["outcome"] == "reached" and events[1]["note"] == "paid" and events[1]["staff"] == "bob"
    assert [e["at"] for e in events] == sorted((e["at"] for e in events), reverse=True)
    assert len(queue.history(phone(1), limit=2)) == 2
    assert [e["event"] for e in queue.history(phone(2))] == ["requested"]
    assert queue.history(phone(3)) == []


def test_phone_numbers_are_not_in_key_names(queue, redis_conn):
    queue.request("nurse", phone(1), "en", call_sid="CA1")
    queue.claim_next(["nurse"], "alice")
    names = [k.decode() for k in redis_conn.keys("*")]
    assert names and not any("2025550001" in name for name in names)


# Estimated wait ----------------------------------------------------------------------------------


def handle(queue, clock, department: str, staff: str, seconds: float, n: int) -> None:
    """One callback requested, claimed by ``staff`` and finished ``seconds`` later."""
    cid = queue.request(department, phone(9000 + n), "en", urgent=True).callback.id  # first in line
    assert queue.claim_next([department], staff).id == cid
    clock.advance(seconds)
    queue.finish(cid, staff, Outcome.REACHED)


def test_estimated_wait_without_history_uses_the_default(queue):
    assert queue.estimated_wait_seconds("nurse") == DEFAULT_HANDLING_SECONDS
    for i in range(4):
        queue.request("nurse", phone(i), "en")
    assert queue.estimated_wait_seconds("nurse") == 5 * DEFAULT_HANDLING_SECONDS
    assert queue.estimated_wait_seconds("nurse", position=2) == 2 * DEFAULT_HANDLING_SECONDS


def test_estimated_wait_grows_with_depth_and_slower_handling(queue, clock):
    for n in range(3):
        handle(queue, clock, "nurse", "alice", 120, n)
        handle(queue, clock, "billing", "bob", 480, 10 + n)
    assert queue.estimated_wait_seconds("nurse") == 120
    assert queue.estimated_wait_seconds("billing") == 480
    for i in range(5):
        queue.request("nurse", phone(i), "en")
        queue.request("billing", phone(i), "en")
    assert queue.estimated_wait_seconds("nurse") == 6 * 120
    assert queue.estimated_wait_seconds("billing") == 6 * 480
    handle(queue, clock, "nurse", "alice", 540, 20)  # mean of 120, 120, 120, 540
    assert queue.estimated_wait_seconds("nurse") == 6 * 225


def test_estimated_wait_falls_with_more_staff_working_the_queue(queue, clock):
    for n, staff in enumerate(["alice", "alice", "alice"]):
        handle(queue, clock, "nurse", staff, 300, n)
    for i in range(5):
        queue.request("nurse", phone(i), "en")
    one = queue.estimated_wait_seconds("nurse")
    for n, staff in enumerate(["bob", "carol"]):
        handle(queue, clock, "nurse", staff, 300, 10 + n)
    three = queue.estimated_wait_seconds("nurse")
    assert one == 6 * 300 and three == 6 * 300 // 3
    # An hour later nobody has finished one recently: back to one person's pace.
    clock.advance(3601)
    assert queue.estimated_wait_seconds("nurse") == 6 * 300


# Statistics ----------------------------------------------------------------------------------------


def test_stats_on_a_known_day(redis_conn, clock):
    queue = CallbackQueue(redis_conn, lease_seconds=86400, clock=clock)
    # Two days ago: outside the window.
    clock.now = T0 - 2 * 86400
    old = queue.request("billing", phone(99), "en").callback
    queue.claim_next(["billing"], "zed")
    queue.finish(old.id, "zed", Outcome.REACHED)
    clock.now = T0
    a, b, c, d = (queue.request("billing", phone(i), "en", requested_at=T0 + 100 * i).callback for i in range(4))
    clock.now = T0 + 600
    queue.claim_next(["billing"], "alice")  # a waited 600 s
    clock.now = T0 + 900
    queue.finish(a.id, "alice", Outcome.REACHED)  # done 900 s after the request
    clock.now = T0 + 1000
    queue.claim_next(["billing"], "bob")  # b waited 900 s
    clock.now = T0 + 5000
    queue.finish(b.id, "bob", Outcome.LEFT_MESSAGE)  # done after 4900 s: over the hour
    clock.now = T0 + 5100
    queue.claim_next(["billing"], "alice")  # c waited 4900 s
    queue.finish(c.id, "alice", Outcome.WRONG_NUMBER)
    stats = queue.stats("billing", now=T0 + 6000)
    assert stats == {
        "waiting_now": 1,
        "scheduled_now": 0,
        "claimed_now": 0,
        "claimed": 3,
        "average_wait_seconds": round((600 + 900 + 4900) / 3),
        "completed": 2,
        "completed_within_target": 1,
        "abandoned": 1,
        "oldest_waiting_seconds": 6000 - 300,
    }
    assert queue.stats("billing", now=T0 + 6000, target_seconds=5000)["completed_within_target"] == 2
    assert queue.stats("billing", now=T0 + 6000, window_seconds=3 * 86400)["completed"] == 3
    assert queue.stats("nurse", now=T0)["waiting_now"] == 0


def test_oldest_waiting_counts_urgent_ones_by_their_request_time(queue, clock):
    queue.request("nurse", phone(1), "en", requested_at=T0 - 50)
    queue.request("nurse", phone(2), "en", requested_at=T0 - 400, urgent=True)
    assert queue.stats("nurse")["oldest_waiting_seconds"] == 400


# Durability ----------------------------------------------------------------------------------------


def test_a_confirmed_request_survives_a_crash_with_the_append_only_file(tmp_path):
    server = EmbeddedRedis(tmp_path / "aof", appendonly=True).start()
    try:
        queue = CallbackQueue(server.client())
        placed = queue.request("nurse", phone(1), "en", call_sid="CA-durable")
        queue.request("nurse", phone(2), "en")
        time.sleep(1.5)  # appendfsync everysec: on disk within a second
        server.kill()  # kill -9: no shutdown save
        assert not (tmp_path / "aof" / "dump.rdb").exists()
        server.start()
        queue = CallbackQueue(server.client())
        assert queue.get(placed.callback.id) == placed.callback
        assert queue.position(placed.callback.id) == 1 and queue.waiting_count("nurse") == 2
        assert queue.request("nurse", phone(1), "en").created is False
        assert queue.claim_next(["nurse"], "alice").id == placed.callback.id  # scripts reload themselves
    finally:
        server.stop()


def test_retry_policy_for_the_clinic():
    clinic = load_clinic(ROOT / "config" / "clinic.yaml")
    policy = RetryPolicy.for_clinic(clinic)
    assert (policy.attempts, policy.spacing_seconds) == (3, 1800)
    assert policy.hours.window == Span.parse("09:00-20:00")


def test_keys_are_declared_in_the_keys_module():
    assert keys.CALLBACK.format("x") == "ivr:callback:x"
    assert all(
        getattr(keys, name).startswith(keys.PREFIX) for name in dir(keys) if name.startswith("CALLBACK")
    )


def test_a_changed_lease_length_applies_to_the_next_claim_without_a_restart(redis_conn, clock):
    settings = {"lease_minutes": 10}  # what clinic.yaml says now; the runtime reloads it live
    queue = CallbackQueue(redis_conn, lease_seconds=lambda: settings["lease_minutes"] * 60, clock=clock)
    line_up(queue, clock, 2)
    first = queue.claim_next(["nurse"], "nina")
    assert first.lease_until == pytest.approx(clock() + 600)
    settings["lease_minutes"] = 3
    second = queue.claim_next(["nurse"], "omar")
    assert second.lease_until == pytest.approx(clock() + 180)
