"""Texts on the Setup page, in the admin banner and on /healthz (ivr.operations.readiness): what stops texts
to patients, said in words for staff (no setting names outside the Setup page's part for whoever runs the
server) and with the setting for the person who runs it."""

from __future__ import annotations

import re

import pytest

from .test_admin import logged_in, users  # noqa: F401 - fixture
from .test_plain_words import technical
from .test_texts import job_context, lookups, now, twilio_env, unsubscribed_twilio  # noqa: F401 - fixtures

SERVICE = "MG" + "0123456789abcdef" * 2


def setup_items(admin) -> dict[str, str]:
    html = admin.get("/admin/setup").get_data(as_text=True)
    return {key: body for key, body in re.findall(r'<li id="setup-([\w-]+)">(.*?)</li>', html, re.S)}


def words(item: str) -> str:
    found = re.search(r'<p class="setup-words">(.*?)</p>', item, re.S).group(1)
    return re.sub(r"<[^>]+>", "", found).replace("&#39;", "'").strip()


def texts_section(admin) -> str:
    html = admin.get("/admin/setup").get_data(as_text=True)
    found = re.search(r'<section aria-labelledby="setup-texts-title">(.*?)</section>', html, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", found).replace("&#39;", "'").split())


def test_texts_switched_on_without_the_twilio_account_or_public_address_are_said_in_words(make_app, users):  # noqa: F811
    app = make_app(TWILIO_MESSAGING_SERVICE_SID=SERVICE, TWILIO_ACCOUNT_SID="", PUBLIC_URL="")
    admin = logged_in(app)

    item = setup_items(admin)["texts_account"]
    assert words(item) == ("Texts to patients are switched off until the clinic's Twilio account is connected and "
                           "the server's public address is set.")
    assert not technical(words(item))
    for setting in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "IVR_PUBLIC_URL"):
        assert f"<code>{setting}</code>" in item  # for whoever runs the server
    assert "They cannot go out until what is said above is fixed." in texts_section(admin)
    banner = admin.get("/admin").get_data(as_text=True)
    assert 'href="/admin/setup#setup-texts_account">see Setup</a>' in banner

    health = app.test_client().get("/healthz").get_json()
    assert health["texts"] == "not ready"
    assert any(p.startswith("texts to patients cannot be sent until outbound calls can be: ")
               and "IVR_PUBLIC_URL" in p for p in health["not_ready"])


@pytest.mark.parametrize("sid", ["MG123", "PN" + "0" * 32, "mg" + "0" * 31])
def test_a_messaging_service_sid_that_is_not_one_is_said(make_app, users, sid):  # noqa: F811
    app = make_app(TWILIO_MESSAGING_SERVICE_SID=sid, PUBLIC_URL="https://phones.clinic.example")
    item = setup_items(logged_in(app))["texts_service"]
    assert words(item) == ("Texts to patients are switched off until the name of the clinic's Twilio texting "
                           "service is corrected.")
    assert not technical(words(item))
    assert "<code>IVR_TWILIO_MESSAGING_SERVICE_SID</code>" in item
    assert any("not a Messaging Service SID" in p for p in app.test_client().get("/healthz").get_json()["not_ready"])


def test_texts_after_unreached_follow_ups_asked_for_without_a_messaging_service(make_app, users):  # noqa: F811
    app = make_app(TEXTS_AFTER_UNREACHED_FOLLOWUP="1")
    admin = logged_in(app)
    item = setup_items(admin)["texts_service"]
    assert words(item).startswith("Texts after a follow-up call that reached nobody are asked for, but no texts")
    assert not technical(words(item))
    assert "Texts are switched off." in texts_section(admin)
    health = app.test_client().get("/healthz").get_json()
    assert health["texts"] == "off"
    assert any("IVR_TEXTS_AFTER_UNREACHED_FOLLOWUP is on" in p for p in health["not_ready"])


def test_texts_set_up_are_said_to_be_on_with_nothing_to_fix(make_app, users):  # noqa: F811
    app = make_app(TWILIO_MESSAGING_SERVICE_SID=SERVICE, PUBLIC_URL="https://phones.clinic.example",
                   TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_AUTH_TOKEN="t" * 32, TEXTS_LOOKUP="0")
    admin = logged_in(app)
    items = setup_items(admin)
    assert "texts_service" not in items and "texts_account" not in items
    section = texts_section(admin)
    assert section.startswith("Texts to patients Texts are switched on")
    assert "Twilio's carrier lookup is turned off" in section
    assert "cannot go out" not in section
    # The example's main number is also what texts tell patients to call.
    assert "and texts give them that number to call" in words(items["main_number"])
    health = app.test_client().get("/healthz").get_json()
    assert health["texts"] == "on"
    assert not [p for p in health["not_ready"] if "text" in p.lower()]


def test_a_messaging_service_twilio_refuses_is_said_until_a_text_goes(
    make_app, users, redis_conn, job_context, twilio_env, now, unsubscribed_twilio, prism, monkeypatch  # noqa: F811
):
    """Twilio refuses a text because the Messaging Service has no number to send from (error 21704): every text
    would fail, so Setup and /healthz say so, in words, until a text goes again."""
    from ivr import texts as texts_module
    from ivr.texts import wording
    from ivr.workers import texts as jobs

    from .test_texts import callback

    app = make_app(TWILIO_MESSAGING_SERVICE_SID=SERVICE, PUBLIC_URL="https://phones.clinic.example",
                   TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_AUTH_TOKEN="t" * 32)
    admin = logged_in(app)
    assert app.test_client().get("/healthz").get_json()["texts"] == "on"

    unsubscribed_twilio.code, unsubscribed_twilio.message = 21704, "Messaging Service contains no phone numbers"
    cb = callback(redis_conn)
    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts_module.CALLBACK, cb.id) == "refused"

    item = setup_items(admin)["texts_refused"]
    assert words(item) == "Texts to patients are not going out: Twilio says the clinic's texting service has no phone " \
                          "number to send from."
    assert not technical(words(item))
    assert "Twilio&#39;s error 21704" in item
    assert "They cannot go out until what is said above is fixed." in texts_section(admin)
    health = app.test_client().get("/healthz").get_json()
    assert health["texts"] == "not ready"
    assert any(p.startswith("Twilio refuses texts (error 21704)") for p in health["not_ready"])

    # The service fixed in Twilio's console: the next text goes, and the problem is gone.
    monkeypatch.setenv("TWILIO_API_BASE_URL", prism.base_url)
    other = callback(redis_conn, phone="+12025550124")
    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts_module.CALLBACK, other.id) == "sent"
    assert "texts_refused" not in setup_items(admin)
    assert app.test_client().get("/healthz").get_json()["texts"] == "on"
