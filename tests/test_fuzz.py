"""Fuzzing every route (app.url_map, so new routes are covered): malformed, huge, deeply nested and
wrongly encoded input, as a visitor, as a logged-in admin (with the CSRF token) and, for /voice/*, as
Twilio (every request signed exactly as Twilio signs it, with the test token).

Asserts: no 500 anywhere, and every webhook Twilio calls during a call (incoming, step, fallback*)
answers either 4xx or TwiML (XML whose root is <Response>). About 30 s.
"""

from __future__ import annotations

import json
import os
from collections import Counter
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from .conftest import TOKEN
from .test_admin import PASSWORD, csrf, users  # noqa: F401  (users is a fixture)

CALL_WEBHOOKS = ("/voice/incoming", "/voice/step", "/voice/fallback")  # and /voice/fallback/*: prefixes
SKIP_FOR_ADMIN = {"staff.logout"}  # would end the session the other examples need
EXAMPLES = 400

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
twilio_names = st.sampled_from(["CallSid", "From", "To", "Digits", "SpeechResult", "Confidence", "DialCallStatus",
                                "RecordingUrl", "RecordingSid", "RecordingDuration", "CallStatus", "CallDuration",
                                "AccountSid", "text", "username", "password", "action", "dates", "confirm", "state"])
values = st.one_of(
    text,
    st.sampled_from(["CA" + "a" * 32, "RE" + "b" * 32, "1", "0", "-1", "99999999999999999999", "nan", "1e309",
                     "completed", "no-answer", "+12025550123", "", " ", "\x00", "é", "publish", "on", "[]", "{}",
                     '[["2026-02-30", "x"]]', "[" * 2000]),
    st.text(max_size=3).map(lambda s: s * 5000),  # long
)
params = st.lists(st.tuples(st.one_of(twilio_names, text), values), max_size=12)  # duplicates included


def nested_json(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


bodies = st.one_of(
    st.builds(lambda p: ("form", p), params),
    st.builds(lambda b: ("raw", b), st.binary(max_size=300)),  # mostly not UTF-8
    st.builds(lambda d: ("raw", nested_json(d)), st.sampled_from([1, 50, 1000, 100_000])),
    st.builds(lambda p: ("raw", json.dumps(dict(p)).encode()), params),
    st.builds(lambda n: ("raw", b"\xff\xfe" * n), st.sampled_from([10, 40_000, 600_000])),  # huge, bad UTF-8
)
content_types = st.sampled_from([
    "application/x-www-form-urlencoded", "application/json", "multipart/form-data; boundary=xyz",
    "multipart/form-data", "text/plain", "application/x-www-form-urlencoded; charset=latin-1", "",
])
segments = st.one_of(st.sampled_from(["main", "followup", "en", "es", "welcome", "1", "0", "nope", "..", "a.wav"]), text)


def routes(app):
    """(endpoint, rule, methods) for every route, HEAD and OPTIONS aside."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        found.append((rule.endpoint, rule, methods))
    assert len(found) > 30
    return found


def build_path(rule, data) -> str:
    values = {arg: data.draw(segments) for arg in rule.arguments}
    for arg, conv in rule._converters.items():  # converters that take only some values
        if type(conv).__name__ == "IntegerConverter":
            values[arg] = data.draw(st.integers(0, 10**6))
        elif isinstance(getattr(conv, "items", None), (set, frozenset)):
            values[arg] = data.draw(st.sampled_from(sorted(conv.items)))
    try:
        path = rule.build(values, append_unknown=False)[1]
    except Exception:  # noqa: BLE001 - a value the converter refuses: use something it takes
        plain = {arg: (sorted(conv.items)[0] if isinstance(getattr(conv, "items", None), (set, frozenset)) else "1")
                 for arg, conv in rule._converters.items()}
        path = rule.build(plain, append_unknown=False)[1]
    query = data.draw(st.sampled_from(["", "?s=1", "?s=2&e=empty", "?s=abc", "?a=1&b=999999", "?next=//evil", "?s=%ff"]))
    return path + query


def encode(kind_and_body, content_type: str) -> bytes:
    kind, body = kind_and_body
    if kind == "form":
        return urlencode(body).encode()
    return body


def is_call_webhook(path: str) -> bool:
    return path.split("?")[0].startswith(CALL_WEBHOOKS)


SEEN: list[tuple[str, int]] = []  # (method path, status) of every request: FUZZ_REPORT=1 pytest -s prints them


@pytest.fixture(autouse=True)
def report():
    SEEN.clear()
    yield
    if os.environ.get("FUZZ_REPORT"):
        for (where, status), n in sorted(Counter(SEEN).items()):
            print(f"{n:5d}  {status}  {where}")


def check_answer(resp, method: str, path: str) -> None:
    SEEN.append((f"{method} {path.split('?')[0]}", resp.status_code))
    assert resp.status_code < 500, f"{method} {path}: {resp.status_code}\n{resp.get_data(as_text=True)[:500]}"
    if method == "POST" and is_call_webhook(path) and not 400 <= resp.status_code < 500:
        assert resp.status_code == 200, f"{method} {path}: {resp.status_code}"
        root = ET.fromstring(resp.get_data())
        assert root.tag == "Response", f"{method} {path}: {resp.get_data(as_text=True)[:300]}"


FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                HealthCheck.data_too_large])


@pytest.fixture
def fuzz_app(make_app, config_copy):
    config, prompts = config_copy  # admin forms may rewrite clinic.yaml and prompts: a private copy
    return make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts))


def test_fuzz_every_route_as_a_visitor(fuzz_app):
    client = fuzz_app.test_client()
    table = routes(fuzz_app)

    @FUZZ_SETTINGS
    @given(st.data())
    def run(data):
        endpoint, rule, methods = data.draw(st.sampled_from(table))
        method = data.draw(st.sampled_from(methods))
        path = build_path(rule, data)
        body, ctype = data.draw(bodies), data.draw(content_types)
        headers = data.draw(st.sampled_from([{}, {"X-Twilio-Signature": "A" * 27 + "="}, {"X-Twilio-Signature": "\u00e9"},
                                             {"X-CSRFToken": "x"}, {"Authorization": "Bearer x"}]))
        resp = client.open(path, method=method, data=encode(body, ctype), content_type=ctype or None, headers=headers)
        check_answer(resp, method, path)

    run()


def test_fuzz_every_route_as_an_admin(fuzz_app, users):  # noqa: F811
    client = fuzz_app.test_client()
    token = csrf(client, "/login")
    assert client.post("/login", data={"csrf_token": token, "username": "ada", "password": PASSWORD}).status_code == 302
    token = csrf(client, "/admin/hours")
    table = [r for r in routes(fuzz_app) if r[0] not in SKIP_FOR_ADMIN]

    @FUZZ_SETTINGS
    @given(st.data())
    def run(data):
        endpoint, rule, methods = data.draw(st.sampled_from(table))
        method = data.draw(st.sampled_from(methods))
        path = build_path(rule, data)
        kind, body = data.draw(bodies)
        ctype = data.draw(content_types)
        if kind == "form":
            body = [("csrf_token", token), *body]
        resp = client.open(path, method=method, data=encode((kind, body), ctype), content_type=ctype or None,
                           headers={"X-CSRFToken": token})
        check_answer(resp, method, path)
        if resp.status_code == 302 and "/login" in resp.headers.get("Location", ""):
            pytest.fail(f"{method} {path} logged the admin out")

    run()


def test_fuzz_twilio_webhooks_signed_as_twilio_signs_them(fuzz_app):
    client = fuzz_app.test_client()
    validator = RequestValidator(TOKEN)
    table = [r for r in routes(fuzz_app) if r[1].rule.startswith("/voice/") and "POST" in r[2]]
    assert {r[1].rule for r in table} >= {"/voice/incoming", "/voice/step", "/voice/fallback", "/voice/status"}

    @FUZZ_SETTINGS
    @given(st.data())
    def run(data):
        endpoint, rule, methods = data.draw(st.sampled_from(table))
        path = build_path(rule, data)
        pairs = data.draw(params)
        if data.draw(st.booleans()):
            pairs = [("CallSid", "CA" + "c" * 32), ("From", "+12025550123"), ("To", "+12025550199"), *pairs]
        if data.draw(st.booleans()):  # drop a field Twilio always sends
            pairs = [p for p in pairs if p[0] != data.draw(twilio_names)]
        url = "http://localhost" + path
        signature = validator.compute_signature(url, MultiDict(pairs))
        resp = client.post(path, data=urlencode(pairs).encode(), content_type="application/x-www-form-urlencoded",
                           headers={"X-Twilio-Signature": signature})
        assert resp.status_code != 403, f"{path}: our signature was refused"
        check_answer(resp, "POST", path)

    run()
