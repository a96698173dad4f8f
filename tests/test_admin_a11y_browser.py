"""Every admin page in real headless Chromium at 1366 px and 390 px: axe-core finds no violation,
and on a 390 px phone nothing scrolls sideways except a region that is scrollable on purpose
(focusable, labelled: a keyboard user can scroll it too).

The pages are the admin blueprints' GET routes, read from the url_map: a GET page added later is
tested without anyone listing it here, and fails until SAMPLES gives its URL arguments (or
NOT_PAGES says why it is not a page, e.g. a download). Each page and width is its own test case.
"""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page

from ivr import admin as admin_pages
from ivr.admin import followups as followups_admin
from ivr.admin import reports as reports_admin
from ivr.store import audit as actions
from ivr.store.api_keys import ApiKeyStore

from .test_admin import FOUR_TO_BILLING
from .test_admin_browser import admin, log_in  # noqa: F401
from .test_followup_pages import GOOD

WIDTHS = {"1366px": {"width": 1366, "height": 900}, "390px": {"width": 390, "height": 844}}

# URL arguments for each page that has some; "{appointment}" and "{api_key}" are filled in with the
# ids made by the `admin_data` fixture. A list gives one test case per entry.
SAMPLES: dict[str, list[dict]] = {
    "admin.flow": [{"name": "main"}, {"name": "main", "node": "main_menu"}],
    "admin.flow_yaml": [{"name": "main"}],
    "admin.version": [{"name": "main", "n": 1}],
    "admin.diff": [{"name": "main", "a": 1, "b": 2}],
    "admin.prompt": [{"prompt_id": "welcome"}],
    "admin.desk": [{"key": "billing"}],
    "admin.department_wizard": [{"name": "main"}],
    "admin.confirm_api_key": [{"key_id": "{api_key}", "action": "rotate"}, {"key_id": "{api_key}", "action": "revoke"}],
    "followups_admin.detail": [{"appointment_id": "{appointment}"}],
}
# GET routes that answer with something other than an HTML page.
NOT_PAGES = {
    "admin.play_audio": "a prompt's recording (audio)",
    "admin.department_wizard_default": "a redirect to the default flow's 'add a department' page",
    "followups_admin.export": "the CSV download",
    "reports_admin.table_csv": "a report table's CSV download",
}


def _routes_app() -> Flask:
    """The admin blueprints in a bare app: their url_map without Redis or settings."""
    app = Flask("admin-routes")
    app.register_blueprint(admin_pages.bp)
    app.register_blueprint(followups_admin.bp)
    app.register_blueprint(reports_admin.bp)
    return app


def admin_get_endpoints(app: Flask) -> dict[str, set[str]]:
    """endpoint -> its URL arguments, for every GET route under /admin."""
    found: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if "GET" in (rule.methods or ()) and rule.rule.startswith("/admin"):
            found.setdefault(rule.endpoint, set()).update(rule.arguments)
    return found


def _cases() -> list:
    cases = []
    for endpoint, arguments in sorted(admin_get_endpoints(_routes_app()).items()):
        if endpoint in NOT_PAGES:
            continue
        variants = SAMPLES.get(endpoint) or ([{}] if not arguments else [None])  # None: no sample, the case fails
        differ = {k for a in variants if a for k, v in a.items() if any(not b or b.get(k) != v for b in variants)}
        for args in variants:
            shown = "&".join(f"{k}={args[k]}" for k in sorted(differ) if args and k in args)
            label = f"{endpoint}[{shown}]" if shown else endpoint
            for width_id, size in WIDTHS.items():
                cases.append(pytest.param(endpoint, args, size, id=f"{label}-{width_id}"))
    return cases


@pytest.fixture
def admin_data(live_server, admin, redis_conn) -> dict[str, str]:
    """What the pages show: a second flow version (so there is a diff), an appointment, an API key."""
    app = live_server.app
    svc = app.extensions["ivr"]
    version = svc.flow_versions.publish("main", FOUR_TO_BILLING, "ada", note="key 4 for billing")
    svc.runtime.sync_flows()
    svc.audit.record("ada", actions.FLOW_PUBLISH, target="flow:main", detail=f"version {version.n} key 4 for billing")
    keys = ApiKeyStore(redis_conn)
    key_record, secret = keys.create("scheduler", "ada")
    client = app.test_client()
    resp = client.post("/api/appointments", json=[GOOD], headers={"Authorization": f"Bearer {secret}"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    from ivr.store.followups import FollowupStore

    appointment = next(r.id for r in FollowupStore(redis_conn).list())
    return {"appointment": appointment, "api_key": key_record.id}


def _url(app: Flask, endpoint: str, args: dict, data: dict[str, str]) -> str:
    from flask import url_for

    filled = {k: (v.format(**data) if isinstance(v, str) else v) for k, v in args.items()}
    with app.test_request_context():
        return url_for(endpoint, **filled)


def _axe_violations(page: Page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe  # in the test extra: a missing one fails

    results = Axe().run(page)  # every rule that applies (axe-core's defaults)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}"
        for v in results.response["violations"] for node in v["nodes"]
    ]


# Elements wider than the screen on purpose: a scroll container (overflow auto/scroll) a keyboard
# can reach (tabindex), with a name (aria-label/labelledby) and a role that can carry it.
WIDE_THINGS = """() => {
  const width = window.innerWidth;
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const onPurpose = (el) => (el.tabIndex >= 0 && el.getAttribute('role') &&
    (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby'))) ||
    (el.matches('textarea, select') &&  // a labelled form control scrolls by keyboard by itself
     ((el.labels && el.labels.length > 0) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')));
  const out = new Set();
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if ((r.width === 0 && r.height === 0) || r.right <= width + 0.5) continue;
    let box = el.parentElement;
    while (box && box !== document.body && getComputedStyle(box).overflowX === 'visible') box = box.parentElement;
    if (!box || box === document.body) {
      const p = el.parentElement;
      if (!p || p === document.body || p.getBoundingClientRect().right <= width + 0.5)
        out.add(name(el) + ' reaches ' + Math.round(r.right) + ' px');
    } else if (['auto', 'scroll'].includes(getComputedStyle(box).overflowX) && !onPurpose(box)) {
      out.add(name(box) + ' scrolls sideways but is not a focusable labelled region (tabindex, role, aria-label)');
    }
  }
  for (const box of document.body.querySelectorAll('*')) {  // text wider than its box counts too
    if (['auto', 'scroll'].includes(getComputedStyle(box).overflowX) && box.scrollWidth > box.clientWidth + 1
        && !onPurpose(box))
      out.add(name(box) + ' scrolls sideways but is not a focusable labelled region (tabindex, role, aria-label)');
  }
  return [...out];
}"""


# A table that fits only because its words are broken letter by letter (html has overflow-wrap: anywhere)
# is not read on a phone either: with words kept whole, it must still fit its box (or be a scroll region).
SQUEEZED_TABLES = """() => {
  const out = [];
  for (const table of document.querySelectorAll('main table')) {
    if (!table.getClientRects().length) continue;
    let box = table.parentElement, region = false;
    for (let a = box; a && a !== document.body; a = a.parentElement)
      if (['auto', 'scroll'].includes(getComputedStyle(a).overflowX) && a.tabIndex >= 0) region = true;
    if (region) continue;
    const all = [table, ...table.querySelectorAll('*')];
    const saved = all.map((el) => [el.style.overflowWrap, el.style.wordBreak]);
    all.forEach((el) => { el.style.overflowWrap = 'normal'; el.style.wordBreak = 'normal'; });
    const wide = table.getBoundingClientRect().width > box.clientWidth + 1;
    all.forEach((el, i) => { el.style.overflowWrap = saved[i][0]; el.style.wordBreak = saved[i][1]; });
    if (wide) out.push('table' + (table.id ? '#' + table.id : '') + '.' + [...table.classList].join('.'));
  }
  return out;
}"""


def test_every_admin_get_route_is_tested_or_named_as_not_a_page(app):
    """The real app's /admin GET routes are the ones the cases come from (a new admin blueprint too)."""
    real = set(admin_get_endpoints(app))
    tested = set(admin_get_endpoints(_routes_app()))
    assert real == tested, f"admin GET routes this test does not know: {sorted(real - tested)}; gone: {sorted(tested - real)}"
    assert set(NOT_PAGES) <= real, f"NOT_PAGES names routes that are gone: {sorted(set(NOT_PAGES) - real)}"
    assert set(SAMPLES) <= real, f"SAMPLES names routes that are gone: {sorted(set(SAMPLES) - real)}"


@pytest.mark.parametrize("endpoint,args,size", _cases())
def test_admin_page_passes_axe_and_fits_the_screen(page: Page, live_server, admin_data, endpoint, args, size):
    assert args is not None, (f"{endpoint} takes URL arguments: give it sample ones in SAMPLES "
                              f"(or, if it is not an HTML page, a reason in NOT_PAGES)")
    url = _url(live_server.app, endpoint, args, admin_data)
    page.set_viewport_size(size)
    log_in(page, live_server.url, "/admin")
    resp = page.goto(live_server.url + url)
    assert resp is not None and resp.status == 200, f"{url}: HTTP {resp and resp.status}"
    page.wait_for_load_state("networkidle")  # scripts that draw after load (the flow picture) have run
    problems = [f"{url} at {size['width']} px: axe-core: {v}" for v in _axe_violations(page)]
    if size["width"] <= 400:
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        inner = page.evaluate("window.innerWidth")
        if scroll_width > inner:
            problems.append(f"{url} at {size['width']} px: the page scrolls sideways ({scroll_width} px wide)")
        problems += [f"{url} at {size['width']} px: wider than the screen, outside a focusable labelled "
                     f"scroll region: {w}" for w in page.evaluate(WIDE_THINGS)]
        problems += [f"{url} at {size['width']} px: {t} fits only by breaking words: stack its rows "
                     f"or put it in a focusable labelled scroll region" for t in page.evaluate(SQUEEZED_TABLES)]
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)
