"""Desks in the browser's forms (no browser): add, refuse bad numbers, rename, hours, remove — written to
config/clinic.yaml round-trip, checked by the runtime's loader, seen by every web process at once,
audited; calls put through by signed webhooks."""

from __future__ import annotations

import difflib
import time
import xml.etree.ElementTree as ET

import pytest

from ivr.clinic.settings import load_clinic
from ivr.telephony.simulator import PhoneCall
from ivr.store.audit import AuditLog

from .conftest import TOKEN, flask_transport
from .test_admin import PASSWORD, csrf, logged_in, users  # noqa: F401

PHARMACY = "+12025550105"


@pytest.fixture
def desk_app(make_app, config_copy, users):  # noqa: F811
    config, prompts = config_copy
    return make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts)), config / "clinic.yaml"


def _add(client, **fields):
    form = {"csrf_token": csrf(client, "/admin/desks"), "name": "Pharmacy", "number": "(202) 555-0105",
            "role_nurse": "1", "hours_mode": "clinic"}
    form.update(fields)
    return client.post("/admin/desks", data=form)


def _changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_a_desk_added_in_the_browser_is_one_new_line_of_clinic_yaml_and_audited(desk_app, redis_conn):
    app, path = desk_app
    before = path.read_text()
    admin = logged_in(app)
    resp = _add(admin)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    after = path.read_text()
    # Comments, order and quoting kept: the file differs by the new desk's line only.
    assert _changed_lines(before, after) == ['+  pharmacy: {name: Pharmacy, number: "+12025550105", roles: [nurse]}']
    assert load_clinic(path).desks["pharmacy"].number == PHARMACY
    assert app.extensions["ivr"].runtime.clinic.desks["pharmacy"].roles == ["nurse"]
    page = admin.get("/admin/desks").get_data(as_text=True)
    assert "Pharmacy" in page and "+1 202-555-0105" in page
    entry = next(e for e in AuditLog(redis_conn).recent(limit=20) if e.action == "desk_add")
    assert entry.actor == "ada" and entry.target == "desk:pharmacy" and PHARMACY not in entry.detail


@pytest.mark.parametrize("typed,reason", [
    ("12345", "is not a valid phone number: it has too few digits"),
    ("+1 202 555 01", "is not a valid phone number"),
    ("call the pharmacy", "is not a phone number: give it with its area code"),
    ("+1 900 555 0123", "is a premium-rate number (callers put through to it would pay extra)"),
    ("+44 871 234 5678", "is a premium-rate number"),
])
def test_a_desk_number_that_is_not_valid_or_premium_rate_is_refused_with_the_reason(desk_app, typed, reason):
    app, path = desk_app
    before = path.read_bytes()
    admin = logged_in(app)
    resp = _add(admin, number=typed)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert reason in page.replace("&#34;", '"')
    assert 'id="new-number-error"' in page and 'aria-describedby="new-number-error"' in page  # next to its field
    assert f'value="{typed}"' in page  # what was typed is kept
    assert path.read_bytes() == before


def test_a_premium_rate_desk_number_typed_into_the_file_is_refused_by_the_loader(config_copy):
    config, _prompts = config_copy
    path = config / "clinic.yaml"
    path.write_text(path.read_text().replace('number: "+12025550102"', 'number: "+19005550123"'))
    with pytest.raises(ValueError, match=r"clinic.yaml:\d+: desks.billing.number: \+19005550123 is a premium-rate number"):
        load_clinic(path)


def _call_key(app, key: str) -> ET.Element:
    """A signed call to the main menu, key ``key``: the last TwiML document, parsed."""
    call = PhoneCall(flask_transport(app), "http://localhost", TOKEN)
    call.start()
    turn = call.press(key)
    return ET.fromstring(turn.twiml[-1])


def dialled(doc: ET.Element) -> str | None:
    """The number a TwiML document rings: <Dial>NUMBER</Dial> or <Dial><Number>NUMBER</Number></Dial>."""
    dial = doc.find("Dial")
    if dial is None:
        return None
    return (dial.findtext("Number") or dial.text or "").strip()


def test_rename_keeps_the_key_so_flows_still_find_the_desk_and_every_process_rings_the_new_number(
        desk_app, make_app, redis_conn):
    app, path = desk_app
    other = make_app(CONFIG_DIR=app.config["CONFIG_DIR"], PROMPTS_DIR=app.config["PROMPTS_DIR"])  # a second web process
    assert dialled(_call_key(other, "2")) == "+12025550102"
    admin = logged_in(app)
    form = {"csrf_token": csrf(admin, "/admin/desks/billing"), "name": "Billing office", "number": "+1 202 555 0142",
            "role_billing": "1", "role_scheduling": "1", "hours_mode": "clinic"}
    assert admin.post("/admin/desks/billing", data=form).status_code == 302
    desk = load_clinic(path).desks["billing"]
    assert (desk.name, desk.number, desk.roles) == ("Billing office", "+12025550142", ["billing", "scheduling"])
    assert "Billing office" in admin.get("/admin/desks").get_data(as_text=True)
    # Key 2 of the live flow still rings billing, at its new number: in this process at once, and the other
    # process lists the new name on its next page and rings the new number within two seconds, as for a publish.
    assert dialled(_call_key(app, "2")) == "+12025550142"
    assert "Billing office" in logged_in(other).get("/admin/desks").get_data(as_text=True)
    saved = time.monotonic()
    while dialled(_call_key(other, "2")) != "+12025550142":
        assert time.monotonic() - saved < 2.6, "the other process did not ring the new number in time"
        time.sleep(0.1)
    entry = next(e for e in AuditLog(redis_conn).recent(limit=20) if e.action == "desk_edit")
    assert "name Billing -> Billing office" in entry.detail and "roles billing -> billing,scheduling" in entry.detail


def test_a_desk_with_its_own_hours_is_not_rung_outside_them(desk_app, clock):
    app, path = desk_app
    admin = logged_in(app)
    form = {"csrf_token": csrf(admin, "/admin/desks/billing"), "name": "Billing", "number": "+12025550102",
            "role_billing": "1", "hours_mode": "own", "hours_monday": "1pm-5pm"}
    bad = dict(form, hours_tuesday="after lunch")
    resp = admin.post("/admin/desks/billing", data=bad)
    assert resp.status_code == 422 and "Tuesday: “after lunch” is not a time span" in resp.get_data(as_text=True)
    assert admin.post("/admin/desks/billing", data=form).status_code == 302
    assert load_clinic(path).desks["billing"].hours["monday"] == ["13:00-17:00"]
    # Tuesday 10:00: the clinic is open, billing is not (closed on Tuesdays): key 2 offers a callback instead of ringing.
    call = PhoneCall(flask_transport(app), "http://localhost", TOKEN)
    call.start()
    offer = call.press("2")
    doc = ET.fromstring(offer.twiml[-1])
    assert doc.find("Dial") is None
    assert "call you back" in " ".join(s.text or "" for s in doc.iter("Say"))
    # Choosing to hold does not ring the closed desk either: the caller is offered voicemail at once.
    held = call.press("2")
    assert ET.fromstring(held.twiml[-1]).find("Dial") is None and held.waiting == "record"


def test_removing_a_desk_in_use_is_refused_saying_where_and_an_unused_one_goes(desk_app, redis_conn):
    app, path = desk_app
    svc = app.extensions["ivr"]
    svc.callbacks.request("billing", "+12025550123", "en", call_sid="CA" + "1" * 32)
    admin = logged_in(app)
    before = path.read_bytes()
    shown = admin.get("/admin/desks/billing").get_data(as_text=True)  # the desk's page says what uses it, up front
    assert "Used now by:" in shown and "flow main, step to_billing" in shown
    resp = admin.post("/admin/desks/billing/remove", data={"csrf_token": csrf(admin, "/admin/desks/billing")})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 409
    for where in ("flow main, step to_billing", "flow main, step billing_callback_offer", "flow main, step billing_voicemail",
                  "1 callback in its queue"):
        assert where in page
    assert path.read_bytes() == before
    resp = admin.post("/admin/desks/front_desk/remove", data={"csrf_token": csrf(admin, "/admin/desks/front_desk")})
    assert resp.status_code == 409 and "the fallback desk" in resp.get_data(as_text=True)

    assert _add(admin).status_code == 302
    assert "pharmacy" in svc.runtime.clinic.desks
    resp = admin.post("/admin/desks/pharmacy/remove", data={"csrf_token": csrf(admin, "/admin/desks/pharmacy")})
    assert resp.status_code == 302
    assert path.read_bytes() == before  # back to the file as it was, byte for byte
    assert "pharmacy" not in svc.runtime.clinic.desks
