"""Issue 33: a change costs a web process the same whether 1 or many consoles are open.

In-process (Flask's test client, a thread per stream) on the test Redis: the process's one fan-out
(ivr.staff.live_fanout) renders the queues once per push, a burst of changes goes out together, a
change costs Redis the same work with 6 streams open as with 1, and what each user holds still comes
to that user's streams only.
"""

from __future__ import annotations

import time

from ivr.store import keys
from ivr.store.callbacks import CallbackQueue

import pytest

from ivr.staff.passwords import hash_password
from ivr.store.users import UserStore

from .test_console_live import PASSWORD, log_in, open_stream


@pytest.fixture
def staff(redis_conn) -> UserStore:
    users = UserStore(redis_conn)
    users.add("nina", "nurse", hash_password(PASSWORD), display_name="Nina Patel")
    return users


def _streams(app, count: int, user: str = "nina") -> list:
    readers = []
    for _ in range(count):
        client = app.test_client()
        log_in(client, user)
        readers.append(open_stream(client)[1])
    return readers


def _queues(reader) -> list[dict]:
    return [data for name, data, _id, _at in list(reader.events) if name == "queues"]


def _all_have(readers, version: int, timeout: float = 3.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if all(any(q["v"] >= version for q in _queues(r)) for r in readers):
            return
        time.sleep(0.01)
    raise AssertionError(f"not every stream got the queues as of {version}")


def _version(redis_conn) -> int:
    return int(redis_conn.get(keys.CALLBACK_LIVE_VERSION) or 0)


def _renders(app) -> int:
    return app.extensions["ivr_live_shared"].renders


def _commands(redis_conn) -> int:
    return int(redis_conn.info("stats")["total_commands_processed"])


def test_a_change_costs_one_render_and_the_same_redis_work_with_six_consoles_as_with_one(make_app, staff, redis_conn):
    app = make_app(LIVE_STREAM_SECONDS=30)
    queue = CallbackQueue(redis_conn)

    def cost(readers) -> tuple[int, int]:
        """Renders and Redis commands for one new callback, with two callbacks waiting after it (as rendered)."""
        warm = queue.request("nurse", "+12025550100", "en").callback  # each new stream reads its own callbacks once
        _all_have(readers, _version(redis_conn))
        time.sleep(1.1)  # the next change is pushed at once, not held for the interval
        renders, commands = _renders(app), _commands(redis_conn)
        measured = queue.request("nurse", "+12025550101", "en").callback
        _all_have(readers, _version(redis_conn))
        time.sleep(0.3)  # anything late would count
        cost = _renders(app) - renders, _commands(redis_conn) - commands
        for cb in (warm, measured):  # the same queue for the next measurement
            assert queue.cancel(cb.id, cb.phone)
        _all_have(readers, _version(redis_conn))
        return cost

    readers = _streams(app, 1)
    one = cost(readers)
    readers += _streams(app, 5)
    six = cost(readers)
    assert one[0] == six[0] == 1  # the queues rendered once for all six
    assert six[1] == one[1], (one, six)  # no Redis command per stream


def test_a_burst_of_changes_goes_out_together_with_every_callback_in_it(make_app, staff, redis_conn):
    """Ten callbacks asked for within a moment (a busy hour): each console gets them in one or two pushes
    (the first at once, the rest together), not ten renders times the consoles."""
    app = make_app(LIVE_STREAM_SECONDS=30)
    queue = CallbackQueue(redis_conn)
    readers = _streams(app, 4)
    queue.request("nurse", "+12025550100", "en")
    _all_have(readers, _version(redis_conn))
    time.sleep(1.1)
    renders, sent = _renders(app), [len(_queues(r)) for r in readers]
    ids = [queue.request("nurse", f"+1202555011{i}", "en").callback.id for i in range(10)]
    last = _version(redis_conn)
    _all_have(readers, last)
    time.sleep(1.1)  # nothing more comes
    assert _renders(app) - renders <= 2
    for reader, before in zip(readers, sent):
        pushed = _queues(reader)[before:]
        assert 1 <= len(pushed) <= 2 and pushed[-1]["v"] == last
        assert all(f'data-callback="{cid}"' in pushed[-1]["html"] for cid in ids)


def test_what_a_user_holds_reaches_that_users_consoles_only(make_app, staff, redis_conn):
    staff.add("nora", "nurse", hash_password(PASSWORD), display_name="Nora Diaz")
    app = make_app(LIVE_STREAM_SECONDS=30)
    queue = CallbackQueue(redis_conn)
    first = queue.request("nurse", "+13055550147", "en").callback
    second = queue.request("nurse", "+13055550148", "en").callback
    nina, nora = _streams(app, 2, "nina"), _streams(app, 2, "nora")
    queue.request("nurse", "+13055550149", "en")  # a first push: everyone's (empty) own callbacks
    _all_have(nina + nora, _version(redis_conn))
    time.sleep(1.1)

    def mine_since(readers, counts) -> list[list[str]]:
        return [[data["html"] for name, data, _i, _a in r.events[n:] if name == "mine"] for r, n in zip(readers, counts)]

    counts = [len(r.events) for r in nina + nora]
    assert queue.claim_next(["nurse"], "nina").id == first.id
    _all_have(nina + nora, _version(redis_conn))
    got = mine_since(nina + nora, counts)
    assert all(len(m) == 1 and first.id in m[0] and "3055550147" in m[0] for m in got[:2])  # hers, in full
    assert got[2:] == [[], []]  # nora's consoles: nothing of nina's, not even read again
    time.sleep(1.1)
    counts = [len(r.events) for r in nina + nora]
    assert queue.claim_next(["nurse"], "nora").id == second.id
    _all_have(nina + nora, _version(redis_conn))
    got = mine_since(nina + nora, counts)
    assert got[:2] == [[], []]
    assert all(len(m) == 1 and second.id in m[0] and first.id not in m[0] for m in got[2:])
