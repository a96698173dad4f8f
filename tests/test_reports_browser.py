"""The reports page in real headless Chromium: fits 1366 and 390 px, axe 0, the range picker, a CSV download."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random

import pytest
from playwright.sync_api import Page, expect

from ivr.store.call_records import CallbackLifecycle, CallRecord, CallRecords

from .conftest import OPEN_TIME
from .test_admin_browser import admin, log_in  # noqa: F401
from .test_console_work_browser import _axe

PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1366, "height": 900}


def _store_calls(app, redis_conn, days: int = 10, per_day: int = 12) -> None:
    svc = app.extensions["ivr"]
    flow = svc.runtime.flows.live("main")
    names = list(flow.nodes)
    rng = random.Random(3)
    records = CallRecords(redis_conn)
    for d in range(days):
        day = OPEN_TIME.date() - dt.timedelta(days=d)
        rows = []
        for i in range(per_day):
            arrived = int((OPEN_TIME - dt.timedelta(days=d, minutes=17 * i)).timestamp())
            outcome = rng.choice("ACVWM")
            path = [names.index(n) for n in ("greeting", "check_hours", "main_menu") if n in names]
            rows.append(CallRecord(arrived, "main", flow.version, rng.choice(["en", "es"]), tuple(path), outcome,
                                   "" if outcome == "M" else "billing", 5, None if outcome == "M" else 10,
                                   30 if outcome == "A" else None, 40 if outcome in "CV" else None, 90, 1, 0, "o").pack())
        records.add_raw(day, rows)
    lifecycle = CallbackLifecycle(redis_conn)
    for i in range(6):  # callbacks done 10 min to 3 h after the request, and one waiting
        requested = OPEN_TIME.timestamp() - 86400 - 3600 * 4
        lifecycle.record({"requested_at": str(requested), "first_claimed_at": str(requested + 300),
                          "finished_at": str(requested + 600 + 1800 * i), "status": "done", "source": "call",
                          "department": "billing"})
    svc.callbacks.request("billing", "+12025550190", "en")


@pytest.mark.parametrize("size", [WIDE, PHONE], ids=["1366px", "390px"])
def test_reports_page_fits_and_passes_axe(page: Page, live_server, admin, redis_conn, size):
    _store_calls(live_server.app, redis_conn)
    page.set_viewport_size(size)
    log_in(page, live_server.url, "/admin/reports?range=7")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Reports")
    expect(page.locator("#chart-outcomes rect.bar").first).to_be_visible()
    for chart in ("heat_calls", "heat_queued", "heat_wait"):  # calls, callers waiting and their minutes: 7 x 24 cells
        expect(page.locator(f"#chart-{chart} rect.bar")).to_have_count(168)
    expect(page.locator("#chart-callback_times rect.bar").first).to_be_visible()
    expect(page.locator('table[data-table="waiting"] tbody tr')).to_have_count(1)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= size["width"], f"the reports page is {width} px wide on a {size['width']} px screen"
    assert _axe(page) == []


def test_range_picker_and_csv_download(page: Page, live_server, admin, redis_conn):
    _store_calls(live_server.app, redis_conn)
    log_in(page, live_server.url, "/admin/reports")
    page.get_by_label("Custom", exact=True).check()
    page.get_by_label("From (custom)").fill("2026-11-20")
    page.get_by_label("To (custom)").fill("2026-11-24")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#period")).to_contain_text("Fri 20 Nov 2026 to Tue 24 Nov 2026")
    calls = page.locator('table[data-table="summary"] tbody tr').first.locator("td")
    expect(calls).to_have_text("60")  # 5 days x 12 calls
    with page.expect_download() as info:
        page.locator('a[data-csv="outcomes"]').click()
    with open(info.value.path(), encoding="utf-8") as fh:
        text = fh.read()
    rows = list(csv.reader(io.StringIO(text)))
    shown = [[c.strip() for c in r.locator("th, td").all_inner_texts()] for r in page.locator('table[data-table="outcomes"] tbody tr').all()]
    assert rows[0] == ["Outcome", "Calls", "Share"] and rows[1:] == shown
    assert sum(int(r[1]) for r in rows[1:]) == 60

    # Reversed dates: said on the page, in words.
    page.get_by_label("From (custom)").fill("2026-11-24")
    page.get_by_label("To (custom)").fill("2026-11-20")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#range-error")).to_contain_text("before it begins")
    assert _axe(page) == []
