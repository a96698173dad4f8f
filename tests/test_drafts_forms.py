"""Forms in the manager's words: common ways of writing hours are read, each error is beside its field in
the words of its label with everything as typed, and a refused publish lists the draft's problems with links
to their steps."""

from __future__ import annotations

import html
import re

import pytest

from ivr.admin.hours_pages import read_span
from ivr.store.flows import FlowStore

from .test_admin import MAIN, csrf, logged_in, users  # noqa: F401  (users: a fixture)


@pytest.mark.parametrize("typed, read", [
    ("9-12", "09:00-12:00"), ("8am-1pm", "08:00-13:00"), ("9:00–17:30", "09:00-17:30"), ("08:00-17:00", "08:00-17:00"),
    ("9 to 5", "09:00-17:00"), ("1-5pm", "13:00-17:00"), ("9-5pm", "09:00-17:00"), ("noon-4:30 pm", "12:00-16:30"),
    ("8.30am - 12", "08:30-12:00"), ("12am-6am", "00:00-06:00"), ("13:00—24:00", "13:00-24:00"), ("7 a.m.-3 p.m.", "07:00-15:00"),
])
def test_common_ways_of_writing_hours_are_read(typed, read):
    assert read_span(typed) == read


@pytest.mark.parametrize("typed, reason", [
    ("17:00-13:00", "ends before it starts"), ("5pm-9am", "ends before it starts"), ("25-26", "does not exist"),
    ("13pm-2pm", "does not exist"), ("mornings", "is not a time span: write it like 9-12, 8am-1pm or 09:00-17:30"),
])
def test_hours_that_cannot_be_read_say_why(typed, reason):
    with pytest.raises(ValueError, match=reason):
        read_span(typed)


def test_hours_form_errors_are_beside_their_fields_in_the_labels_words(make_app, config_copy, users, phone):  # noqa: F811
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    admin = logged_in(app)
    before = (config / "clinic.yaml").read_text()
    form = {"csrf_token": csrf(admin, "/admin/hours"), "hours_monday": "9-12, 1pm-5pm", "hours_tuesday": "8am-1pm",
            "hours_wednesday": "9:00–17:30", "hours_thursday": "9-12, 11-13", "holiday_count": "2",
            "holiday_date_0": "2026-12-25", "holiday_name_0": "Christmas Day", "holiday_hours_0": "",
            "holiday_date_1": "2027-01-01", "holiday_name_1": "New Year", "holiday_hours_1": "10-9am"}
    resp = admin.post("/admin/hours", data=form)
    page = html.unescape(resp.get_data(as_text=True))
    assert resp.status_code == 422 and "Not saved: 2 fields to correct, marked below." in page
    # Each error is beside its field, named as the page names it (row 2 on screen, not "holidays.1.hours").
    assert re.search(r'id="hours_thursday" value="9-12, 11-13" aria-invalid="true" aria-describedby="hours_thursday-error">\s*'
                     r'<p class="field-error" id="hours_thursday-error">Thursday: the times 09:00-12:00 and 11:00-13:00 overlap</p>', page)
    assert ('value="10-9am" aria-label="Hours of holiday 2" aria-invalid="true" aria-describedby="holiday_hours_1-error">'
            '<p class="field-error" id="holiday_hours_1-error">Hours of holiday 2: “10-9am” ends before it starts') in page
    assert "holidays.1" not in page
    assert 'value="8am-1pm"' in page and 'value="New Year"' in page  # everything as typed
    assert (config / "clinic.yaml").read_text() == before

    form.update(hours_thursday="9-12", holiday_hours_1="10-2")
    assert admin.post("/admin/hours", data=form).status_code == 302
    text = (config / "clinic.yaml").read_text()
    assert 'monday: ["09:00-12:00", "13:00-17:00"]' in text and 'tuesday: ["08:00-13:00"]' in text
    assert 'wednesday: ["09:00-17:30"]' in text and 'hours: ["10:00-14:00"]' in text


def test_a_refused_publish_lists_the_drafts_problems_with_links_to_their_steps(make_app, users, redis_conn):  # noqa: F811
    app = make_app()
    admin = logged_in(app)
    broken = MAIN.replace("on_failure: to_front_desk", "on_failure: nowhere").replace("desk: billing", "desk: pharmacy")
    resp = admin.post("/admin/flows/main/save", data={"csrf_token": csrf(admin, "/admin/flows/main"), "text": broken,
                                                     "action": "publish"}, follow_redirects=True)
    page = html.unescape(resp.get_data(as_text=True))
    issues = FlowStore(redis_conn).draft("main").issues
    assert len(issues) >= 2
    assert f"Not published: the draft has {len(issues)} problems, listed under “Problems to fix before publishing”" in page
    listed = re.search(r'<section class="draft-problems" id="problems".*?</section>', page, re.S).group(0)
    assert listed.count("<li>") == len(issues)
    for issue in issues:
        assert f'<a href="/admin/flows/main?node={issue["node"]}#step">Step {issue["node"]}</a>: {issue["message"]}' in listed
