"""The callback page's texts in real headless Chromium: delivery status and replies in words, a 390 px phone,
axe-core's accessibility rules."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ivr.protection.sealing import Sealer
from ivr.store.texts import TextStore
from ivr.texts import wording

from .conftest import DATA_KEY
from .test_console_work_browser import DESK, PATIENT, PHONE, _axe, queue, staff, take_one  # noqa: F401 - fixtures


@pytest.mark.parametrize("size", [PHONE, DESK], ids=["390px", "1280px"])
def test_texts_on_the_callback_page_fit_a_phone_and_pass_axe(page, live_server, staff, queue, redis_conn, size):
    cb = queue.request("nurse", PATIENT, "es").callback
    store = TextStore(redis_conn, Sealer.from_settings(DATA_KEY, "unused"))
    store.sent(cb.id, PATIENT, wording.CONFIRM_CALLBACK, cb.id, "SM" + "1" * 32, "delivered")
    store.sent(cb.id, PATIENT, wording.MISSED_CALLBACK, "1", "SM" + "2" * 32, "queued")
    store.set_status("SM" + "2" * 32, "undelivered", "30006")
    store.note(cb.id, "not_sent", purpose=wording.CONFIRM_VOICEMAIL, reason="daily_limit")
    store.note(cb.id, "reply", reply="llámenme-después-de-las-tres-por-favor-estoy-en-el-trabajo-hasta-entonces" * 2)

    page.set_viewport_size(size)
    take_one(page, live_server.url)
    texts = page.get_by_role("region", name="Texts")
    expect(texts).to_contain_text("The patient texted: “llámenme-después")
    expect(texts).to_contain_text("No text that we got the message and will call back: the patient already had a "
                                  "text today.")
    expect(texts).to_contain_text("not delivered: the phone did not take it (the number cannot take texts")
    expect(texts).to_contain_text("Texted that we will call back: delivered.")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= size["width"], f"the callback page is {width} px wide on a {size['width']} px screen"
    assert _axe(page) == []
