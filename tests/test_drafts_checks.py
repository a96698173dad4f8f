"""Every text a caller hears is checked the same way wherever it is typed (the emergency message, holiday
names, prompts), and only flows that can answer a call coming in are offered for the clinic's numbers
(real Redis, signed webhooks)."""

from __future__ import annotations

import html

from .test_admin import _phone, csrf, logged_in, users  # noqa: F401  (users: a fixture)

GREETING = "Thank you for calling Riverside Family Clinic."


def _emergency(admin, en: str, es: str = "Cerrado hoy."):
    return admin.post("/admin/emergency", data={"csrf_token": csrf(admin, "/admin/emergency"), "action": "on",
                                                "desk": "on_call_nurse", "message_en": en, "message_es": es})


def test_a_misspelled_placeholder_in_the_emergency_message_is_refused(make_app, users):  # noqa: F811
    app = make_app()
    admin = logged_in(app)
    resp = _emergency(admin, "The {clinc_name} is closed today.")
    page = html.unescape(resp.get_data(as_text=True))
    assert resp.status_code == 422
    assert "Message in English: {clinc_name} is not a value a call can fill in (the message can use {clinic_name}, " \
           "{hours_today}, {hours_week}, {next_open})" in page
    assert "The {clinc_name} is closed today." in page  # what was typed is kept in its box
    assert 'aria-invalid="true" aria-describedby="message_en-error"' in page
    assert _phone(app).start().said[0] == GREETING  # the switch stayed off: callers hear the menu
    # Braces that do not pair up, and a value only a callback can fill, are refused too.
    assert _emergency(admin, "Closed {clinic_name today.").status_code == 422
    assert "{minutes} cannot be filled in here" in html.unescape(_emergency(admin, "Closed.", "Espere {minutes}.").get_data(as_text=True))
    assert _phone(app).start().said[0] == GREETING

    # Spelt right, it is filled in.
    assert _emergency(admin, "The {clinic_name} is closed today.").status_code == 302
    assert _phone(app).start().said[0] == "The Riverside Family Clinic is closed today."


def test_a_holiday_name_with_braces_is_refused(make_app, config_copy, users):  # noqa: F811
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    admin = logged_in(app)
    before = (config / "clinic.yaml").read_text()
    resp = admin.post("/admin/hours", data={"csrf_token": csrf(admin, "/admin/hours"), "holiday_count": "0",
                                            "holiday_date_0": "2027-07-05", "holiday_name_0": "{clinic_name} picnic",
                                            "hours_monday": "08:00-17:00"})
    assert resp.status_code == 422
    assert "a holiday's name is said as typed, with no values in braces" in html.unescape(resp.get_data(as_text=True))
    assert (config / "clinic.yaml").read_text() == before


def test_a_follow_up_flow_cannot_answer_the_clinics_numbers(make_app, config_copy, users):  # noqa: F811
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    admin = logged_in(app)
    page = admin.get("/admin/numbers").get_data(as_text=True)
    assert '<option value="main"' in page and '<option value="followup"' not in page
    before = (config / "clinic.yaml").read_text()
    for form in ({"default_flow": "followup"},
                 {"default_flow": "main", "number": "+12025550188", "flow": "followup"}):
        resp = admin.post("/admin/numbers", data={"csrf_token": csrf(admin, "/admin/numbers"), **form}, follow_redirects=True)
        assert "flow followup is for the clinic's calls to patients after a visit and cannot answer calls coming in" \
            in html.unescape(resp.get_data(as_text=True))
        assert (config / "clinic.yaml").read_text() == before
    # Inbound callers still hear the clinic's greeting, never "calling for {first_name}".
    for called in ("+12025550199", "+12025550188"):
        from ivr.telephony.simulator import PhoneCall

        from .conftest import TOKEN, flask_transport
        said = PhoneCall(flask_transport(app), "http://localhost", TOKEN, called=called).start().said
        assert said[0] == GREETING


def test_a_hand_edited_clinic_file_cannot_make_the_follow_up_flow_answer_calls(make_app, config_copy, users):  # noqa: F811
    import pytest

    from ivr.clinic.settings import ClinicConfigError, load_clinic

    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    path = config / "clinic.yaml"
    good = path.read_text()
    lines = good.splitlines()
    for old, new in (("default_flow: main", "default_flow: followup"),
                     ("flows_by_number: {}", 'flows_by_number: {"+12025550188": followup}')):
        assert good.count(old) == 1
        line = next(i for i, text in enumerate(lines, 1) if text == old)
        path.write_text(good.replace(old, new))
        with pytest.raises(ClinicConfigError) as refused:
            load_clinic(path)
        assert f"{path}:{line}: " in str(refused.value)
        assert "'followup' is the follow-up flow (followups.flow): it is for the clinic's calls to patients after a " \
               "visit and cannot answer calls coming in" in str(refused.value)
        # The running line keeps its last good settings: a caller hears the clinic's greeting.
        for called in ("+12025550199", "+12025550188"):
            from ivr.telephony.simulator import PhoneCall

            from .conftest import TOKEN, flask_transport
            assert PhoneCall(flask_transport(app), "http://localhost", TOKEN, called=called).start().said[0] == GREETING
        assert "follow-up flow" in app.extensions["ivr"].runtime.settings_error
