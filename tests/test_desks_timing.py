"""What the reports say a caller waits follows a desk's own hours as calls do: a desk closed while the clinic is
open is not counted as a person reached (real flow, real settings from the desk page, a signed call beside it)."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from ivr.flows.timing import time_to_person
from ivr.telephony.simulator import PhoneCall

from .conftest import TOKEN, flask_transport
from .test_admin import csrf, logged_in, users  # noqa: F401  (users: a fixture)


def test_time_to_a_person_skips_a_desk_outside_its_own_hours_as_the_call_does(make_app, config_copy, users, clock):  # noqa: F811
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts))
    runtime = app.extensions["ivr"].runtime
    admin = logged_in(app)

    def billing(now: dt.datetime, own: bool) -> str:
        clinic = runtime.clinic
        paths = time_to_person(runtime.flows.live("main"), runtime.prompts, {"open": now}, clinic.schedule(),
                               clinic.desk_numbers(), {"clinic_name": clinic.name}, languages=["en"],
                               desk_schedules=clinic.desk_schedules if own else None)
        return next(p.reached for p in paths if p.caller == "first_time" and p.choice == "2")

    tuesday = dt.datetime(2026, 12, 8, 10, 0, tzinfo=runtime.clinic.zone)  # the clinic is open
    assert billing(tuesday, own=True) == "person: billing"  # billing keeps the clinic's hours: its phone rings
    form = {"csrf_token": csrf(admin, "/admin/desks/billing"), "name": "Billing", "number": "+12025550102",
            "role_billing": "1", "hours_mode": "own", "hours_monday": "1pm-5pm"}
    assert admin.post("/admin/desks/billing", data=form).status_code == 302
    assert "billing" in runtime.clinic.desk_schedules

    # A signed call now (Tuesday 10:00): pressing 2 does not ring billing.
    call = PhoneCall(flask_transport(app), "http://localhost", TOKEN)
    call.start()
    assert ET.fromstring(call.press("2").twiml[-1]).find("Dial") is None
    assert billing(tuesday, own=True) == "callback offer: billing"  # what the timing reports, as the call does
    assert billing(tuesday, own=False) == "person: billing"  # without the desk's hours it would count a ring
    monday = tuesday - dt.timedelta(days=1, hours=-4)  # Monday 14:00: inside billing's own hours
    assert billing(monday, own=True) == "person: billing"
