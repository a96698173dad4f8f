"""The scheduling system's appointments API (ivr/followups/api.py) against its description,
ivr/followups/openapi.yaml: what an integrator reads there is what the server does.

Every response these tests receive goes through ``Api``, which checks it against the
description (the documented status for that path and method, its JSON schema with $refs
resolved, its required headers) with a real JSON Schema validator.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from typing import Any, Iterator

import jsonschema
import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from ivr.followups.api import MAX_BODY, MAX_ITEMS
from ivr.store import keys
from ivr.store.followups import FollowupStore
from ivr.workers import DEFAULT_QUEUE
from ivr.workers import followups as jobs

from .conftest import ROOT
from .test_call_patient import PUBLIC, job_context  # noqa: F401 - fixture

SPEC_PATH = ROOT / "ivr" / "followups" / "openapi.yaml"
SPEC: dict = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
SPEC_URI = "urn:ivr:followups:openapi"
REGISTRY = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(SPEC))
IGNORED_METHODS = {"HEAD", "OPTIONS"}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}

PATIENT = "+12025550123"
GOOD = {"name": "Maria Lopez", "phone": "202-555-0123", "appointment_time": "2026-11-24T10:00:00-05:00",
        "provider": "Dr. Chen", "department": "nurse", "language": "es"}


# The description, read as a client would -----------------------------------------------------


def pointer_escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def resolve(pointer: str) -> tuple[Any, str]:
    """The object at a JSON pointer of the description, following $ref objects; (object, its pointer)."""
    seen = set()
    while True:
        node: Any = SPEC
        for part in filter(None, pointer.split("/")):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        if not (isinstance(node, dict) and "$ref" in node):
            return node, pointer
        ref = node["$ref"]
        assert ref.startswith("#/") and ref not in seen, f"unresolvable $ref {ref!r} at {pointer}"
        seen.add(ref)
        pointer = ref[1:]


def validator(pointer: str) -> Draft202012Validator:
    """A validator for the schema at ``pointer``; its $refs resolve within the description."""
    return Draft202012Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=REGISTRY,
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def template_regex(template: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")


def operation_pointer(path: str, method: str) -> str | None:
    """The pointer to the description's operation for a request path (not a template) and method."""
    for template, item in SPEC["paths"].items():
        if template_regex(template).match(path) and method.lower() in item:
            return f"/paths/{pointer_escape(template)}/{method.lower()}"
    return None


def spec_operations() -> set[tuple[str, str]]:
    return {(template, method.upper()) for template, item in SPEC["paths"].items()
            for method in item if method in HTTP_METHODS}


def request_errors(path: str, method: str, body: Any) -> list[str]:
    """Why the description refuses ``body`` as the request body of this operation (empty: it allows it)."""
    op = operation_pointer(path, method)
    assert op is not None, f"{method} {path} is not described"
    _, body_pointer = resolve(op + "/requestBody")
    schema_pointer = body_pointer + "/content/application~1json/schema"
    return [e.message for e in validator(schema_pointer).iter_errors(body)]


def check_response(resp, method: str, path: str) -> None:
    """The response is one the description promises for this path and method (status, headers, JSON body)."""
    assert resp.mimetype == "application/json", f"{method} {path} -> {resp.status_code} {resp.mimetype}"
    body = resp.get_json()
    op = operation_pointer(path, method)
    if op is None:  # no such operation: the documented JSON error of paths and methods under /api/
        assert resp.status_code in (404, 405), f"{method} {path} -> {resp.status_code}"
        jsonschema.validate(body, {"$ref": f"{SPEC_URI}#/components/schemas/Error"}, registry=REGISTRY)
        return
    operation, _ = resolve(op)
    status = str(resp.status_code)
    assert status in operation["responses"], f"{method} {path}: {status} is not documented ({body})"
    response, response_pointer = resolve(f"{op}/responses/{status}")
    for name, _ in response.get("headers", {}).items():
        header, header_pointer = resolve(f"{response_pointer}/headers/{pointer_escape(name)}")
        if header.get("required"):
            assert name in resp.headers, f"{method} {path} -> {status} without the {name} header"
        if name in resp.headers:
            validator(header_pointer + "/schema").validate(resp.headers[name])
    assert "application/json" in response["content"]
    validator(f"{response_pointer}/content/application~1json/schema").validate(body)


class Api:
    """The scheduling system's side: authenticated JSON requests, every answer checked against the description."""

    def __init__(self, client, key: str | None) -> None:
        self.client, self.key = client, key

    def headers(self, key: str | None = "") -> dict[str, str]:
        key = self.key if key == "" else key
        return {"Authorization": f"Bearer {key}"} if key else {}

    def request(self, method: str, path: str, body: Any = None, key: str | None = "", **kwargs):
        if body is not None:
            kwargs["json"] = body
        resp = self.client.open(path, method=method, headers=self.headers(key), **kwargs)
        check_response(resp, method, path)
        return resp

    def post(self, body: Any, **kwargs):
        return self.request("POST", "/api/appointments", body, **kwargs)

    def put(self, appointment_id: str, body: Any, **kwargs):
        return self.request("PUT", f"/api/appointments/{appointment_id}", body, **kwargs)

    def get(self, appointment_id: str, **kwargs):
        return self.request("GET", f"/api/appointments/{appointment_id}", **kwargs)

    def delete(self, appointment_id: str, **kwargs):
        return self.request("DELETE", f"/api/appointments/{appointment_id}", **kwargs)


@pytest.fixture
def api(app, redis_conn) -> Api:
    return Api(app.test_client(), FollowupStore(redis_conn).new_api_key("scheduler"))


def api_for(app, redis_conn, name: str = "scheduler") -> Api:
    return Api(app.test_client(), FollowupStore(redis_conn).new_api_key(name))


# The contract ---------------------------------------------------------------------------------


def test_the_description_is_valid_openapi_and_lists_exactly_the_apps_api_routes(app):
    validate_openapi(SPEC)
    for name, schema in SPEC["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)

    def no_nulls(node, where="") -> None:  # a YAML slip such as `description: a, b` inside {...}
        if isinstance(node, dict):
            for k, v in node.items():
                assert v is not None, f"{where}/{k} is empty in openapi.yaml"
                no_nulls(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                no_nulls(v, f"{where}/{i}")

    no_nulls(SPEC)
    routes = {(re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule), method)
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
              for method in rule.methods - IGNORED_METHODS}
    assert routes and routes == spec_operations()
    scheme = SPEC["components"]["securitySchemes"]["bearerKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert SPEC["security"] == [{"bearerKey": []}]
    for template, method in spec_operations():  # no operation opts out of the key
        assert SPEC["paths"][template][method.lower()].get("security", SPEC["security"]) == SPEC["security"]
    # What the description asks of a request is what the server takes.
    assert request_errors("/api/appointments", "POST", [GOOD]) == []
    assert request_errors("/api/appointments", "POST", {"appointments": [GOOD, {"id": "A-1", "status": "cancelled"}]}) == []
    assert request_errors("/api/appointments/A-1", "PUT", {"status": "no-show"}) == []
    assert request_errors("/api/appointments", "POST", {"appointments": [GOOD], "more": 1})
    assert request_errors("/api/appointments", "POST", [{"status": "cancelled"}])  # no id: all the fields


def test_every_request_needs_a_valid_key_and_errors_are_json(api, redis_conn):
    for method, path in (("POST", "/api/appointments"), ("PUT", "/api/appointments/A-1"),
                         ("GET", "/api/appointments/A-1"), ("DELETE", "/api/appointments/A-1")):
        for key in (None, api.key + "x"):
            resp = api.request(method, path, [GOOD] if method == "POST" else GOOD if method == "PUT" else None, key=key)
            assert resp.status_code == 401 and "API key" in resp.get_json()["error"]
    assert FollowupStore(redis_conn).count() == 0


def test_a_post_imports_good_items_refuses_bad_ones_by_index_and_a_repeat_changes_nothing(api, redis_conn):
    body = {"appointments": [{**GOOD, "id": "A-1", "room": "12"}, {**GOOD, "phone": "12"}, "nonsense"]}
    data = api.post(body).get_json()
    assert (data["imported"], data["updated"], data["cancelled"], data["unchanged"]) == (1, 0, 0, 0)
    assert [e["index"] for e in data["errors"]] == [1, 2]
    again = api.post(body).get_json()
    assert (again["imported"], again["unchanged"], len(again["errors"])) == (0, 1, 2)
    assert FollowupStore(redis_conn).count() == 1
    assert api.get("A-1").get_json()["status"] == "scheduled"


# Strict types ---------------------------------------------------------------------------------


def test_the_wrong_shape_is_refused_whole_with_400(api, redis_conn):
    for body in ({"appts": 1}, GOOD, {"appointments": GOOD}, {"appointments": [GOOD], "extra": True}, "text", 3):
        resp = api.post(body)
        assert resp.status_code == 400, body
        assert "list of appointments" in resp.get_json()["error"]
        assert request_errors("/api/appointments", "POST", body), body  # the description refuses it too
    assert "'appts'" in api.post({"appts": 1}).get_json()["error"]
    not_json = api.client.post("/api/appointments", data=json.dumps([GOOD]), headers=api.headers())  # no JSON type
    check_response(not_json, "POST", "/api/appointments")
    assert not_json.status_code == 400 and "JSON" in not_json.get_json()["error"]
    for body in ([GOOD], "text"):
        resp = api.put("A-1", body)
        assert resp.status_code == 400 and "one appointment object" in resp.get_json()["error"]
    assert FollowupStore(redis_conn).count() == 0


BAD_ITEMS = [
    ({**GOOD, "name": 12345}, "name must be text"),
    ({**GOOD, "phone": 2025550123}, "phone must be text"),
    ({**GOOD, "appointment_time": 1795000000}, "appointment_time must be text"),
    ({**GOOD, "name": "12345"}, "name has no letters"),
    ({**GOOD, "status": "pending-ish"}, "status 'pending-ish' is not known"),
]


def test_numbers_where_text_belongs_and_names_without_letters_are_refused_per_item(api, redis_conn):
    data = api.post([item for item, _ in BAD_ITEMS] + [GOOD]).get_json()
    assert data["imported"] == 1
    assert [e["index"] for e in data["errors"]] == list(range(len(BAD_ITEMS)))
    for (item, reason), error in zip(BAD_ITEMS, data["errors"]):
        assert reason in error["reason"], error
    # The description refuses the same items (a name without letters is a rule it states in words).
    for item, reason in BAD_ITEMS:
        assert bool(request_errors("/api/appointments", "POST", [item])) == ("letters" not in reason), item
    assert FollowupStore(redis_conn).count() == 1


def test_put_refuses_an_invalid_appointment_with_422_and_stores_nothing(api, redis_conn):
    for item, reason in BAD_ITEMS:
        resp = api.put("A-1", item)
        assert resp.status_code == 422 and reason in resp.get_json()["error"], item
    resp = api.put("A-1", {**GOOD, "id": "A-2"})
    assert resp.status_code == 422 and "'A-2'" in resp.get_json()["error"]
    resp = api.put("A-1", {**GOOD, "department": "x"})
    assert resp.status_code == 422 and "unknown department 'x'" in resp.get_json()["error"]
    assert FollowupStore(redis_conn).count() == 0
    assert api.get("A-1").status_code == 404
    assert api.get("bad!id").status_code == 404 and api.put("bad!id", GOOD).status_code == 404


# Limits ---------------------------------------------------------------------------------------


def test_over_the_limit_a_key_gets_429_json_with_retry_after_and_other_keys_do_not(make_app, redis_conn):
    app = make_app(API_LIMIT="2 per minute")
    api, other = api_for(app, redis_conn), api_for(app, redis_conn, "reporting")
    codes = [api.post([GOOD]).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    resp = api.post([{**GOOD, "id": "late"}])
    assert resp.status_code == 429
    assert "try again later" in resp.get_json()["error"]
    wait = resp.headers["Retry-After"]
    assert wait.isdigit() and 1 <= int(wait) <= 61  # the minute's window (flask-limiter rounds up a second)
    for method in ("GET", "PUT", "DELETE"):  # one budget for the key across every route (issue 31)
        resp = api.request(method, "/api/appointments/late", {**GOOD, "id": "late"} if method == "PUT" else None)
        assert resp.status_code == 429 and resp.headers["Retry-After"].isdigit()
    assert FollowupStore(redis_conn).get("slate") is None  # not stored
    assert other.post([GOOD]).status_code == 200  # each key (by its name) has its own budget


def test_unknown_paths_and_methods_under_api_answer_json_other_paths_keep_their_pages(api):
    nothing = api.request("GET", "/api/nothing")
    assert nothing.status_code == 404 and nothing.get_json()["error"]
    patch = api.request("PATCH", "/api/appointments/x", {"status": "cancelled"})
    assert patch.status_code == 405 and patch.get_json()["error"]
    get_list = api.request("GET", "/api/appointments")
    assert get_list.status_code == 405
    page = api.client.get("/nothing")
    assert page.status_code == 404 and page.mimetype == "text/html"


def test_a_405_tells_which_methods_the_path_has(api):
    resp = api.request("PATCH", "/api/appointments/x", {"status": "cancelled"})
    assert resp.status_code == 405
    assert set(resp.headers.get("Allow", "").replace(" ", "").split(",")) >= {"GET", "PUT", "DELETE"}


class ChunkedBody(io.RawIOBase):
    """A request body that can only be read forward (no length to find), counting what was read."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.pending, self.read_bytes = chunks, b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending:
            self.pending = next(self.chunks, b"")
            if not self.pending:
                return 0
        n = min(len(buffer), len(self.pending))
        buffer[:n], self.pending = self.pending[:n], self.pending[n:]
        self.read_bytes += n
        return n


def send_chunked(app, api: Api, chunks: Iterator[bytes]) -> tuple[Any, ChunkedBody, dict]:
    """POST a body with Transfer-Encoding: chunked and no Content-Length, as a server that de-chunks
    bodies (gunicorn, werkzeug's) hands it to the app. (response, the body, what the app saw)."""
    seen: dict = {}

    @app.before_request
    def spy():
        from flask import request

        seen.update(content_length=request.content_length, environ_length=request.environ.get("CONTENT_LENGTH"),
                    transfer_encoding=request.headers.get("Transfer-Encoding"))

    body = ChunkedBody(chunks)
    environ = EnvironBuilder(path="/api/appointments", method="POST", content_type="application/json",
                             headers={**api.headers(), "Transfer-Encoding": "chunked"}).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": io.BufferedReader(body), "wsgi.input_terminated": True})
    resp = api.client.open(Request(environ))
    check_response(resp, "POST", "/api/appointments")
    assert seen == {"content_length": None, "environ_length": None, "transfer_encoding": "chunked"}
    return resp, body, seen


def pieces(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


def test_a_chunked_body_without_content_length_is_read_whole(make_app, redis_conn):
    """The way the 413 test below sends its body really has no Content-Length, and such a body is read."""
    app = make_app()
    api = api_for(app, redis_conn)
    data = json.dumps([{**GOOD, "id": f"c{i}", "phone": f"+1202555{i:04d}"} for i in range(100, 200)]).encode()
    assert len(data) > 4 * 4096  # several chunks
    resp, body, _ = send_chunked(app, api, pieces(data, 4096))
    assert resp.status_code == 200 and resp.get_json()["imported"] == 100
    assert body.read_bytes == len(data)


def padded(size: int) -> Iterator[bytes]:
    """One good appointment, then spaces up to ``size`` bytes: valid JSON, too large."""
    head = json.dumps([{**GOOD, "id": "big"}]).encode()
    yield head
    sent = len(head)
    while sent < size:
        piece = b" " * min(64 * 1024, size - sent)
        sent += len(piece)
        yield piece


def many(size: int) -> Iterator[bytes]:
    """A list of good appointments of about ``size`` bytes."""
    sent, i = 1, 0
    yield b"["
    while sent < size:
        item = (b"," if i else b"") + json.dumps({**GOOD, "id": f"m{i}"}).encode()
        sent += len(item)
        i += 1
        yield item
    yield b"]"


@pytest.mark.parametrize("body", [padded, many])
def test_a_chunked_body_over_max_body_is_refused_with_413_json_and_nothing_is_stored(make_app, redis_conn, body):
    app = make_app()
    api = api_for(app, redis_conn)
    size = 2 * MAX_BODY
    resp, sent, _ = send_chunked(app, api, body(size))
    stored = FollowupStore(redis_conn).count()
    assert sent.read_bytes <= MAX_BODY + 256 * 1024 < size  # stopped reading at the limit
    assert (resp.status_code, stored) == (413, 0), resp.get_json()
    assert str(MAX_BODY) in resp.get_json()["error"]


def test_a_declared_length_over_max_body_or_too_many_items_is_refused_with_413(api, redis_conn):
    resp = api.request("POST", "/api/appointments", data=b"[" + b" " * MAX_BODY + b"]",
                       content_type="application/json")
    assert resp.status_code == 413
    resp = api.post([{}] * (MAX_ITEMS + 1))
    assert resp.status_code == 413 and str(MAX_ITEMS) in resp.get_json()["error"]
    assert FollowupStore(redis_conn).count() == 0


# Moves and cancellations ------------------------------------------------------------------------


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_put_adds_then_changes_nothing_then_moves_the_call_and_the_old_job_does_nothing(api, redis_conn, job_context):
    store = FollowupStore(redis_conn)
    queue = Queue(DEFAULT_QUEUE, connection=redis_conn)
    scheduled = ScheduledJobRegistry(queue=queue)

    first = api.put("A-1", GOOD).get_json()
    assert (first["id"], first["result"], first["status"], first["attempts"]) == ("A-1", "imported", "scheduled", 0)
    assert parse_time(first["next_try_at"]) > parse_time(GOOD["appointment_time"])
    old_job = jobs.job_id("sA-1", 1)
    assert old_job in scheduled.get_job_ids()
    assert store.get("sA-1").gen == 0

    assert api.put("A-1", GOOD).get_json()["result"] == "unchanged"
    assert api.put("A-1", {**GOOD, "id": "A-1"}).get_json()["result"] == "unchanged"
    assert store.get("sA-1").gen == 0

    new_time = "2026-11-27T11:00:00-05:00"
    moved = api.put("A-1", {**GOOD, "appointment_time": new_time}).get_json()
    assert (moved["result"], moved["status"]) == ("updated", "scheduled")
    state = api.get("A-1").get_json()
    assert parse_time(state["appointment_time"]) == parse_time(new_time)
    assert parse_time(state["next_try_at"]) > parse_time(new_time) > parse_time(first["next_try_at"])
    rec = store.get("sA-1")
    assert rec.gen == 1
    new_job = jobs.job_id("sA-1", 1, gen=1)
    assert scheduled.get_scheduled_time(new_job) == parse_time(state["next_try_at"])

    # The job queued for the old time runs as a worker would run it: nothing happens.
    job = Job.fetch(old_job, connection=redis_conn)
    assert job.args[2] == 0  # queued for generation 0
    assert job.func(*job.args, **job.kwargs) == "moved"
    assert jobs._place(None, PUBLIC, "sA-1", 1, gen=0) == "moved"
    after = store.get("sA-1")
    assert (after.status, after.next_try_at, after.attempts, after.gen) == ("scheduled", rec.next_try_at, 0, 1)
    assert store.dial_state("sA-1", 1) is None

    # A new number moves it again.
    again = api.put("A-1", {**GOOD, "appointment_time": new_time, "phone": "+12025550124"}).get_json()
    assert again["result"] == "updated" and store.get("sA-1").gen == 2 and store.get("sA-1").phone == "+12025550124"


def test_delete_cancels_once_then_is_unchanged_and_unknown_ids_are_404(api, redis_conn):
    api.put("A-1", GOOD)
    resp = api.delete("A-1").get_json()
    assert (resp["result"], resp["status"], resp["outcome"], resp["next_try_at"]) == ("cancelled", "cancelled", "cancelled", None)
    assert resp["completed_at"]
    assert api.delete("A-1").get_json()["result"] == "unchanged"
    missing = api.delete("nobody")
    assert missing.status_code == 404 and "no such appointment" in missing.get_json()["error"]
    assert api.get("A-1").get_json()["status"] == "cancelled"
    # Sent again as booked: reopened.
    reopened = api.put("A-1", GOOD).get_json()
    assert (reopened["result"], reopened["status"], reopened["outcome"]) == ("updated", "scheduled", None)


def test_a_status_of_cancelled_with_just_the_id_cancels_through_post_and_put(api, redis_conn):
    api.post([{**GOOD, "id": "A-1"}, {**GOOD, "id": "A-2", "phone": "+12025550124"}])
    data = api.post({"appointments": [{"id": "A-1", "status": "cancelled"}, {"id": "nobody", "status": "Cancelled"}]}).get_json()
    assert (data["cancelled"], data["imported"]) == (1, 0)
    assert data["errors"] == [{"index": 1, "reason": "no such appointment"}]
    assert api.get("A-1").get_json()["outcome"] == "cancelled"
    assert api.post([{"id": "A-1", "status": "no-show"}]).get_json()["unchanged"] == 1
    put = api.put("A-2", {"status": "no-show"}).get_json()
    assert (put["result"], put["status"]) == ("cancelled", "cancelled")
    # Without an id, the fields that make up the appointment's identity name it.
    plain = {**GOOD, "phone": "+12025550125"}
    assert api.post([plain]).get_json()["imported"] == 1
    assert api.post([{**plain, "status": "canceled"}]).get_json()["cancelled"] == 1


def test_put_cancelling_an_unknown_appointment_is_404_like_delete(api):
    resp = api.put("nobody", {"status": "cancelled"})
    assert resp.status_code == 404


def test_changes_during_a_call_or_after_it_are_refused_with_409(api, redis_conn):
    store = FollowupStore(redis_conn)
    api.put("A-1", GOOD)
    redis_conn.hset(keys.FOLLOWUP_APPOINTMENT.format("sA-1"), "status", "calling")
    later = {**GOOD, "appointment_time": "2026-11-27T11:00:00-05:00"}
    resp = api.put("A-1", later)
    assert resp.status_code == 409 and "under way" in resp.get_json()["error"]
    data = api.post([{**later, "id": "A-1"}]).get_json()
    assert data["updated"] == 0 and "under way" in data["errors"][0]["reason"]
    assert parse_time(api.get("A-1").get_json()["appointment_time"]) == parse_time(GOOD["appointment_time"])

    store.complete("sA-1", "reached")
    resp = api.put("A-1", later)
    assert resp.status_code == 409 and "already over" in resp.get_json()["error"]
    resp = api.delete("A-1")
    assert resp.status_code == 409 and "already over" in resp.get_json()["error"]
    assert api.get("A-1").get_json()["outcome"] == "reached"

    # A cancellation while the call rings is taken (nothing more is asked).
    api.put("A-2", {**GOOD, "phone": "+12025550124"})
    redis_conn.hset(keys.FOLLOWUP_APPOINTMENT.format("sA-2"), "status", "calling")
    assert api.delete("A-2").get_json()["result"] == "cancelled"


# The audit log ---------------------------------------------------------------------------------------


def test_imports_moves_and_cancellations_are_audited_under_the_key_name_without_numbers(app, api, redis_conn):
    api.post([{**GOOD, "id": "A-1"}])
    api.put("A-2", {**GOOD, "phone": "+13125550147"})
    api.put("A-1", {**GOOD, "appointment_time": "2026-11-27T11:00:00-05:00"})
    api.delete("A-2")
    api.get("A-1")

    audit = app.extensions["ivr"].audit
    entries = audit.for_actor("api:scheduler")
    actions = [(e.action, e.target) for e in reversed(entries)]
    assert actions == [("appointments_import", ""), ("appointments_import", "sA-2"),
                       ("appointment_move", "sA-1"), ("appointment_cancel", "sA-2")]
    assert "1 new" in entries[-1].detail
    assert [e.action for e in audit.for_target("sA-1")] == ["appointment_move"]
    for entry in audit.recent():
        text = " ".join((entry.actor, entry.target, entry.detail))
        for number in (PATIENT, "2025550123", "555-0123", "3125550147"):
            assert number not in text, entry


# Departments and time zones -------------------------------------------------------------------------


def test_the_scheduling_systems_department_names_map_to_desks(make_app, config_copy, redis_conn):
    config, prompts = config_copy
    clinic = config / "clinic.yaml"
    text = clinic.read_text(encoding="utf-8")
    assert "  departments: {}\n" in text
    clinic.write_text(text.replace("  departments: {}\n", "  departments:\n    Cardiology: nurse\n"), encoding="utf-8")
    api = api_for(make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts)), redis_conn)

    data = api.post([{**GOOD, "id": "C-1", "department": "cardiology"},
                     {**GOOD, "id": "C-2", "department": "Dermatology"},
                     {**GOOD, "id": "C-3", "department": "billing"}]).get_json()
    assert data["imported"] == 2
    [error] = data["errors"]
    assert error["index"] == 1 and "'Dermatology'" in error["reason"] and "followups.departments" in error["reason"]
    store = FollowupStore(redis_conn)
    mapped, desk = store.get("sC-1"), store.get("sC-3")
    assert (mapped.department, mapped.department_name) == ("nurse", "cardiology")
    assert (desk.department, desk.department_name) == ("billing", "billing")
    # The same appointment named in another case is a change of name, stored as given.
    assert api.put("C-1", {**GOOD, "department": "CARDIOLOGY"}).get_json()["result"] == "updated"
    assert (store.get("sC-1").department, store.get("sC-1").department_name) == ("nurse", "CARDIOLOGY")


def test_without_a_timezone_the_zone_comes_from_the_offset_and_the_numbers_area(api, redis_conn):
    seattle = {**GOOD, "phone": "+1 206 555 0123", "appointment_time": "2026-12-05T08:05-08:00"}
    assert "timezone" not in seattle
    assert api.put("W-1", seattle).get_json()["result"] == "imported"
    west = api.get("W-1").get_json()
    assert west["timezone"] == "America/Los_Angeles"
    assert west["appointment_time"] == "2026-12-05T08:05:00-08:00"
    assert FollowupStore(redis_conn).get("sW-1").timezone == "America/Los_Angeles"

    # An offset no zone of the clinic's or the number's has: the number's own zone, with its summer time
    # (the instant is kept); only a number with no known area (toll-free) keeps the offset itself.
    far = api.put("F-1", {**GOOD, "appointment_time": "2026-12-05T08:05+05:45"}).get_json()
    assert far["timezone"] == "America/New_York" and far["appointment_time"] == "2026-12-04T21:20:00-05:00"
    free = api.put("T-1", {**GOOD, "phone": "+1 800 555 0123", "appointment_time": "2026-12-05T08:05+05:45"}).get_json()
    assert free["timezone"] == "UTC+05:45" and free["appointment_time"] == "2026-12-05T08:05:00+05:45"

    # The clinic's own zone comes first; a timezone given wins over the offset.
    assert api.put("E-1", GOOD).get_json()["timezone"] == "America/New_York"
    given = api.put("G-1", {**seattle, "timezone": "America/Vancouver"}).get_json()
    assert given["timezone"] == "America/Vancouver"
