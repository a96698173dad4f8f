"""Every message a nurse or manager reads says what happened in words: no environment variable name, no
file path, no stack text. The technical detail goes to the log and /healthz instead.

Two walks: the message texts written in the staff and admin code (each flash(), error page, refusal and
call-state sentence, read from the source with ``ast``), and the known failure paths driven for real (the
admin banner and Setup page of an install straight from the clone, "Call patient" with calls not set up,
a desk or department refused, a broken settings file, hours refused by the loader).
"""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ivr.config import Defaults
from ivr.staff import callstatus

from .conftest import ROOT
from .test_admin import csrf, logged_in, users  # noqa: F401

SETTINGS = sorted(n for n in vars(Defaults) if n.isupper())
ENV_NAME = re.compile(r"\b(?:IVR|TWILIO)_[A-Z0-9_]+\b|\b(?:" + "|".join(SETTINGS) + r")\b")
FILE_PATH = re.compile(r"(?:\b(?:config|prompts|var|tmp|etc|home)/|\b[\w.-]+\.(?:ya?ml|py|json|ics|wav|mp3|txt)\b"
                       r"|/tmp/|[A-Za-z]:\\)")
STACK = re.compile(r"Traceback|File \"|line \d+, in |\b\w+(?:Error|Exception)\b(?::|\()|\bredis\.\w|\bivr\.\w")


def technical(text: str) -> list[str]:
    return [m.group(0) for pattern in (ENV_NAME, FILE_PATH, STACK) for m in pattern.finditer(text)]


# 1. The texts in the source -----------------------------------------------------------------------

# Calls whose string arguments staff read: flash messages, error pages, refusals and their reasons.
SHOWN = {"flash", "error_page", "abort", "CallStatus", "DeskError", "WizardError", "PromptRefused", "EditError",
         "Use", "Missing", "_At", "HoursError", "DraftError", "ValueError"}
# Module-level tables of sentences staff read.
TABLES = {"REFUSALS", "TWILIO_ERRORS", "PATIENT_RESULTS", "STAFF_LEG", "OUTCOME_TEXT", "IN_DOUBT_NEXT",
          "CALLING", "CALLING_NEXT", "ROLE_LABELS"}
SOURCES = sorted((ROOT / "ivr" / "staff").glob("*.py")) + sorted((ROOT / "ivr" / "admin").glob("*.py")) + [
    ROOT / "ivr" / "operations" / "readiness.py"]


def _strings(node: ast.AST) -> list[tuple[int, str]]:
    """The literal text of a node, with its line: strings, and the fixed parts of f-strings (between the {values})."""
    return [(sub.lineno, sub.value) for sub in ast.walk(node) if isinstance(sub, ast.Constant) and isinstance(sub.value, str)]


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def shown_texts(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node) in SHOWN:
            args = [a for a in node.args] + [k.value for k in node.keywords if k.arg not in ("category",)]
            for arg in args:
                found += _strings(arg)
        elif isinstance(node, ast.Call) and _name(node) == "jsonify":
            for arg in node.args:
                if isinstance(arg, ast.Dict):
                    for key, value in zip(arg.keys, arg.values):
                        if isinstance(key, ast.Constant) and key.value == "error":
                            found += _strings(value)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in TABLES for t in node.targets):
            found += _strings(node.value)
    # "error" is a flash category, not a message; readiness's Missing.settings name the settings on purpose.
    return [(line, s) for line, s in found if s not in ("error", "info", "warn", "ok")]


def _readiness_settings_lines() -> set[int]:
    """Lines of readiness.missing that give the Setup page the settings' names (``settings=``, the 3rd argument)."""
    tree = ast.parse((ROOT / "ivr" / "operations" / "readiness.py").read_text(encoding="utf-8"))
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node) == "Missing" and len(node.args) >= 3:
            lines |= {line for line, _text in _strings(node.args[2])}
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_IN_WORDS" for t in node.targets):
            lines |= {line for line, text in _strings(node.value) if "_" in text}
    return lines


def test_the_staff_and_admin_messages_in_the_code_name_no_setting_path_or_stack():
    settings_lines = _readiness_settings_lines()
    problems = []
    count = 0
    for path in SOURCES:
        for line, text in shown_texts(path):
            if path.name == "readiness.py" and line in settings_lines:
                continue
            count += 1
            for hit in technical(text):
                problems.append(f"{path.relative_to(ROOT)}:{line}: {hit!r} in {text!r}")
    assert count > 300, f"only {count} messages found: the walk missed the code's messages"
    assert not problems, "\n".join(problems)


def test_every_call_state_and_twilio_refusal_reads_without_setting_names():
    details = [f"Twilio error {code} (HTTP 400): x" for code in callstatus.TWILIO_ERRORS] + ["Twilio error  (HTTP 401): x"]
    texts = [callstatus.twilio_reason(d) for d in details]
    for error in ("ivr.telephony.twilio_rest.TwilioNotConfigured: IVR_PUBLIC_URL is not set: Twilio needs absolute webhook URLs",
                  "ivr.telephony.twilio_rest.TwilioNotConfigured: Twilio credentials are not configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN",
                  "ivr.telephony.twilio_rest.TwilioNotConfigured: IVR_PUBLIC_URL must be an absolute http(s) URL, not 'x'",
                  "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nKeyError: 'boom'"):
        status = callstatus.job_failure(error)
        texts += [status.text, status.next]
    for text in texts:
        assert not technical(text), text


# 2. The failure paths, driven ------------------------------------------------------------------------

class _Shown(HTMLParser):
    """The text of every banner, flash message, field error and error box on a page (nested ones inside theirs)."""

    VOID = {"input", "br", "img", "meta", "link", "hr", "source", "col", "area", "base", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # open elements inside the current message box (0: not in one)
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        classes = dict(attrs).get("class") or ""
        if self.depth:
            self.depth += 1
        elif re.search(r"banner|flash|field-error|\berror\b|in-use", classes):
            self.depth = 1
            self.texts.append("")

    def handle_endtag(self, tag):
        if self.depth and tag not in self.VOID:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.texts[-1] += data


def _messages(html: str) -> list[str]:
    parser = _Shown()
    parser.feed(html)
    return [" ".join(t.split()) for t in parser.texts if t.strip()]


def _plain(html: str, where: str) -> list[str]:
    said = _messages(html)
    assert said, f"{where}: no message shown"
    return [f"{where}: {hit!r} in {text.strip()!r}" for text in said for hit in technical(text)]


@pytest.fixture
def fresh(make_app, config_copy, users):  # noqa: F811
    """An install straight from the clone: no Twilio account, no public address, no data key."""
    config, prompts = config_copy
    return make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), TWILIO_ACCOUNT_SID="", PUBLIC_URL="",
                    DATA_KEY=""), config


def test_the_admin_banner_names_the_fix_in_words_and_setup_names_the_setting(fresh):
    app, _config = fresh
    admin = logged_in(app)
    html = admin.get("/admin").get_data(as_text=True)
    assert not _plain(html, "/admin")
    assert "Calls to patients are switched off until the server&#39;s public address is set — " in html
    assert 'href="/admin/setup#setup-public_url">see Setup</a>' in html
    assert "reach nobody until their real numbers are entered" in html and 'href="/admin/desks">see Desks</a>' in html
    setup = admin.get("/admin/setup").get_data(as_text=True)
    # The Setup page is where the person who runs the server reads the setting's name, with what it does.
    item = re.search(r'<li id="setup-public_url">(.*?)</li>', setup, re.S).group(1)
    assert "<code>IVR_PUBLIC_URL</code>" in item and "the web address Twilio reaches this server at" in item
    # The technical detail stays on /healthz.
    assert any("IVR_PUBLIC_URL" in p for p in app.test_client().get("/healthz").get_json()["not_ready"])


def test_the_known_failure_paths_say_what_happened_in_words(fresh, redis_conn):
    app, config = fresh
    svc = app.extensions["ivr"]
    admin = logged_in(app)
    problems = []

    # "Call patient" with calls not set up: the nurse's error box.
    from ivr.staff.passwords import hash_password

    from .test_admin import PASSWORD

    svc.users.add("nell", "nurse", hash_password(PASSWORD), phone="+12025550166")
    nurse = logged_in(app, "nell")
    cb = svc.callbacks.request("nurse", "+12025550123", "en")
    claimed = svc.callbacks.claim_next(["nurse"], "nell")
    assert claimed is not None
    page = f"/console/callbacks/{claimed.id}"
    nurse.post(page + "/call", data={"csrf_token": csrf(nurse, page), "attempt": "a" * 32})
    html = nurse.get(page).get_data(as_text=True)
    assert "No call was placed: calls to patients are switched off until" in html
    problems += _plain(html, "call patient")
    del cb

    # Desks and the wizard refused.
    for form, where in (({"name": "Pharmacy", "number": "+1 900 555 0123"}, "premium number"),
                        ({"name": "", "number": ""}, "empty desk"),
                        ({"name": "Pharmacy", "number": "+1 202 555 0105", "hours_mode": "own", "hours_monday": "after lunch"}, "bad hours")):
        resp = admin.post("/admin/desks", data={"csrf_token": csrf(admin, "/admin/desks"), **form})
        assert resp.status_code == 422, where
        problems += _plain(resp.get_data(as_text=True), where)
    resp = admin.post("/admin/desks/billing/remove", data={"csrf_token": csrf(admin, "/admin/desks/billing")})
    problems += _plain(resp.get_data(as_text=True), "desk in use")
    resp = admin.post("/admin/flows/main/add-department", data={"csrf_token": csrf(admin, "/admin/desks"), "department": "x"})
    problems += _plain(resp.get_data(as_text=True), "wizard")

    # The settings file broken by hand: a desk saved now is refused in words (the loader's file:line goes to the log).
    path = config / "clinic.yaml"
    path.write_text(path.read_text().replace("fallback_desk: front_desk", "fallback_desk: nowhere"))
    resp = admin.post("/admin/desks", data={"csrf_token": csrf(admin, "/admin/desks"), "name": "Pharmacy",
                                            "number": "+1 202 555 0105"})
    assert resp.status_code == 422
    problems += _plain(resp.get_data(as_text=True), "broken settings file")

    # Hours the loader refuses.
    resp = admin.post("/admin/hours", data={"csrf_token": csrf(admin, "/admin/hours"), "hours_monday": "whenever",
                                            "holiday_count": "0"})
    assert resp.status_code == 422
    problems += _plain(resp.get_data(as_text=True), "hours")

    # A page that is not there, and a form sent without its token.
    problems += _plain(admin.post("/admin/desks", data={"name": "x"}).get_data(as_text=True), "no CSRF token")
    assert not problems, "\n".join(problems)


def test_a_blocked_follow_up_says_what_to_fix_in_words(fresh, redis_conn):
    from ivr.store.api_keys import ApiKeyStore

    from .test_followup_pages import block, import_one

    app, _config = fresh
    _record, secret = ApiKeyStore(redis_conn).create("scheduler", "ada")
    waiting = import_one(app, secret)
    refused = import_one(app, secret, name="Ana Ruiz", phone="202-555-0124")
    block(redis_conn, waiting, "IVR_PUBLIC_URL is not set: Twilio needs absolute webhook URLs for the calls it places")
    block(redis_conn, refused, "Twilio refused the request for the whole account: Twilio error 20003 (HTTP 401): Authenticate")
    admin = logged_in(app)
    for appointment, words in ((waiting, "Blocked: calls to patients are switched off until the server&#39;s public address is set"),
                               (refused, "Blocked: Twilio refuses calls for the whole account: it did not accept the clinic&#39;s Twilio account details")):
        html = admin.get(f"/admin/followups/{appointment}").get_data(as_text=True)
        assert words in html
        assert not technical(re.sub(r"<[^>]+>", " ", html).replace("&#39;", "'")), appointment
