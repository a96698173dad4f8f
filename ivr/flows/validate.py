"""Load and validate a flow: shape, then graph rules. Errors name file, node, line.

Rules beyond the schema:
- every target names a node; every node is reachable from ``start``;
- no two options of a menu share a key or a spoken keyword;
- every prompt exists in every language the node speaks;
- no loop can go round without the caller pressing or saying something;
- no path ends in silence: every way out a node needs is there, so each path
  ends at a person (transfer), a voicemail or an explicit goodbye;
- every {name} a prompt's text says can be filled in where the node plays it
  (``{minutes}`` only in a callback offer, ``{first_name}`` only in the follow-up flow).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import phonenumbers
from pydantic import ValidationError

from . import matching, yaml_lines
from .model import (
    CallbackNode,
    Flow,
    FlowDocument,
    HoldNode,
    LanguageNode,
    LanguageOption,
    MenuNode,
    ReturningNode,
    TransferNode,
    VoicemailNode,
)
from .nodes import KINDS


@dataclass(frozen=True)
class Issue:
    source: str
    line: int | None
    node: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        node = f" node '{self.node}':" if self.node else ""
        return f"{where}:{node} {self.message}"


class FlowInvalid(ValueError):
    """A flow failed validation; ``issues`` lists every problem found."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


@dataclass(frozen=True)
class Environment:
    """What a flow may refer to outside itself."""

    prompts: Mapping[str, frozenset[str]]  # language -> prompt ids available
    desks: Mapping[str, str]  # desk id -> E.164 number
    departments: frozenset[str]
    languages: frozenset[str]  # languages the clinic has voices for
    # language -> prompt id -> the {names} its text says (empty: placeholders are not checked)
    placeholders: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)
    # flow name -> what every prompt of that flow can say besides EVERY_CALL (the follow-up flow's patient)
    flow_values: Mapping[str, frozenset[str]] = field(default_factory=dict)


# Placeholders any prompt of a call can say: the renderer and Try-it fill them in
# (ivr.clinic.spoken_hours.prompt_values), whatever node plays the prompt.
EVERY_CALL = frozenset({"clinic_name", "hours_today", "next_open", "hours_week"})
# What a node kind fills in for the prompt named by one of its fields is the kind's ``values``
# (ivr.flows.nodes, beside its Prompt.with_values calls).
KIND_NAMES = {
    "say": "a message", "menu": "a menu", "language": "the language choice", "transfer": "a transfer",
    "voicemail": "a voicemail", "hangup": "a goodbye", "callback": "a callback offer", "hold": "hold",
    "returning": "a returning caller's callback",
}


@dataclass(frozen=True)
class PromptUse:
    """One place a prompt is played, and the placeholders that place fills in."""

    where: str  # "node 'main_menu' (a menu) in flow 'main'"
    fills: frozenset[str]
    languages: tuple[str, ...] = ()
    field: str = ""  # the node's field naming the prompt

    def __str__(self) -> str:
        return self.where


def braces(names: Iterable[str]) -> str:
    return ", ".join("{" + n + "}" for n in sorted(names))


def _prompt_fields(node: Any) -> dict[str, list[str]]:
    """Prompt id -> the node's fields that name it ("prompt", "confirmed_prompt", "prompts", ...)."""
    out: dict[str, list[str]] = {}
    for name in type(node).model_fields:
        value = getattr(node, name, None)
        if name.endswith("prompt") and isinstance(value, str):
            out.setdefault(value, []).append(name)
        elif name == "prompts" and isinstance(value, (list, tuple)):
            for item in value:
                out.setdefault(str(item), []).append(name)
    return out


def node_prompt_uses(flow: str, name: str, node: Any, languages: tuple[str, ...],
                     extra: frozenset[str] = frozenset()) -> dict[str, PromptUse]:
    """The prompts a node plays, each with what it can say in braces there."""
    fields = _prompt_fields(node)
    uses: dict[str, PromptUse] = {}
    for prompt_id, langs in KINDS[node.type].prompts(node, languages):
        named = fields.get(prompt_id) or [""]
        filled = getattr(KINDS[node.type], "values", {})  # per prompt field, what the kind fills in
        given = frozenset.intersection(*(filled.get(f, frozenset()) for f in named))
        where = f"node '{name}' ({KIND_NAMES.get(node.type, node.type)}) in flow '{flow}'"
        uses[prompt_id] = PromptUse(where, EVERY_CALL | extra | given, tuple(langs), named[0])
    return uses


def flow_prompt_uses(flows: Iterable[Any], flow_values: Mapping[str, frozenset[str]]) -> dict[str, list[PromptUse]]:
    """Prompt id -> every place the given flows (Flow objects) play it."""
    out: dict[str, list[PromptUse]] = {}
    for flow in flows:
        extra = flow_values.get(flow.name, frozenset())
        for name, node in flow.nodes.items():
            for prompt_id, use in node_prompt_uses(flow.name, name, node, tuple(flow.languages), extra).items():
                out.setdefault(prompt_id, []).append(use)
    return out


def unfillable(names: Iterable[str], uses: Sequence[PromptUse]) -> str:
    """Why a prompt saying ``names`` would be read out with its braces somewhere it is played ("" if never).

    E.g. "{minutes} cannot be filled in here: this prompt is played by node 'main_menu' (a menu)
    in flow 'main'; it can use {clinic_name}, {hours_today}, {hours_week}, {next_open}".
    """
    names = set(names)
    failing = [u for u in uses if names - u.fills]
    if not failing:
        return ""
    missing = set().union(*(names - u.fills for u in failing))
    usable = frozenset.intersection(*(u.fills for u in uses))
    where = str(failing[0]) + (f" (and {len(failing) - 1} more place{'s' if len(failing) > 2 else ''})" if len(failing) > 1 else "")
    return f"{braces(missing)} cannot be filled in here: this prompt is played by {where}; it can use {braces(usable)}"


def load_flow(text: str, source: str, env: Environment) -> Flow:
    """Parse and validate flow text. Raises :class:`FlowInvalid` with all issues."""
    try:
        data = yaml_lines.load(text)
    except yaml_lines.YamlSyntaxError as exc:
        raise FlowInvalid([Issue(source, exc.line, None, str(exc))]) from None
    if not isinstance(data, dict):
        raise FlowInvalid([Issue(source, 1, None, "a flow file must be a mapping with name, start, languages and nodes")])
    try:
        doc = FlowDocument.model_validate(data)
    except ValidationError as exc:
        raise FlowInvalid(_schema_issues(exc, data, source)) from None

    issues = _check(doc, data, source, env)
    if issues:
        raise FlowInvalid(issues)
    node_lines = {k: (data["nodes"].lines.get(k) or 0) for k in doc.nodes}
    return Flow(
        name=doc.name,
        version=hashlib.sha256(text.encode()).hexdigest()[:12],
        start=doc.start,
        languages=tuple(doc.languages),
        default_language=doc.default_language or doc.languages[0],
        nodes=dict(doc.nodes),
        source=source,
        description=doc.description,
        node_lines=node_lines,
        text=text,
    )


def _schema_issues(exc: ValidationError, data: Any, source: str) -> list[Issue]:
    issues = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        # Discriminated unions add the tag to the path: nodes.x.menu.options -> drop it.
        clean = tuple(p for i, p in enumerate(loc) if not (i == 2 and loc[0] == "nodes" and isinstance(p, str) and p in KINDS))
        node = clean[1] if len(clean) > 1 and clean[0] == "nodes" else None
        field = ".".join(str(p) for p in (clean[2:] if node else clean))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field (check the spelling)"
        elif err["type"] == "missing":
            message = "required field is missing"
        elif err["type"] == "union_tag_invalid":
            message = f"unknown node type {err['input'].get('type')!r}; known types: {', '.join(KINDS)}"
        elif err["type"] == "union_tag_not_found":
            message = f"node needs a type: one of {', '.join(KINDS)}"
        text = f"{field}: {message}" if field else message
        issues.append(Issue(source, yaml_lines.line_of(data, clean), node, text))
    return issues


def _check(doc: FlowDocument, data: Any, source: str, env: Environment) -> list[Issue]:
    issues: list[Issue] = []
    nodes_data = data["nodes"]

    def add(node: str | None, message: str, *path: Any) -> None:
        line = yaml_lines.line_of(nodes_data, (node, *path)) if node else yaml_lines.line_of(data, path)
        issues.append(Issue(source, line, node, message))

    languages = tuple(doc.languages)
    for lang in languages:
        if lang not in env.languages:
            add(None, f"language {lang!r} is not set up in the clinic settings", "languages")
        elif lang not in env.prompts:
            add(None, f"language {lang!r} has no prompts folder", "languages")
    if len(set(languages)) != len(languages):
        add(None, "a language is listed twice", "languages")
    if doc.default_language and doc.default_language not in languages:
        add(None, f"default_language {doc.default_language!r} is not in languages", "default_language")
    if doc.start not in doc.nodes:
        add(None, f"start names no node: {doc.start!r}", "start")

    # Edges, targets, silence.
    graph: dict[str, list[tuple[str, bool]]] = {}
    for name, node in doc.nodes.items():
        if not _valid_id(name):
            add(name, "node names use lower-case letters, digits and _ and start with a letter")
        kind = KINDS[node.type]
        graph[name] = []
        for edge in kind.edges(node):
            path = _field_path(edge.field)
            if edge.target is None:
                if edge.silence:
                    add(name, f"path ends in silence: {edge.silence}", *path[:1])
                continue
            if edge.target not in doc.nodes:
                add(name, f"{edge.field} names an unknown node {edge.target!r}", *path)
                continue
            graph[name].append((edge.target, edge.needs_input))
        if isinstance(node, MenuNode):
            _check_options(add, name, node.options, node.repeat_digit, languages)
            for i, opt in enumerate(node.options):
                if opt.answer is not None and not node.field:
                    add(name, "an option records an answer, but the menu has no field to record it under", "options", i)
                if opt.callback and opt.callback not in env.departments:
                    add(name, f"unknown department {opt.callback!r}; known: {', '.join(sorted(env.departments))}", "options", i)
                if opt.language is not None and opt.language not in languages:
                    add(name, f"option switches to language {opt.language!r}, which the flow does not enable", "options", i)
        elif isinstance(node, LanguageNode):
            _check_options(add, name, node.options, None, languages)
            for i, opt in enumerate(node.options):
                if opt.language not in languages:
                    add(name, f"option offers language {opt.language!r}, which the flow does not enable", "options", i)
                if opt.digit is None and not opt.all_keywords():
                    add(name, "option has neither a digit nor keywords: callers cannot choose it", "options", i)
        elif isinstance(node, TransferNode):
            _check_transfer(add, name, node, env)
        elif isinstance(node, (VoicemailNode, CallbackNode)):
            if node.department not in env.departments:
                add(name, f"unknown department {node.department!r}; known: {', '.join(sorted(env.departments))}", "department")
            if isinstance(node, CallbackNode):
                _check_options(add, name, node.options, None, languages)
                if sum(1 for o in node.options if o.callback) != 1:
                    add(name, "exactly one option must be the callback (callback: true)", "options")
                for i, opt in enumerate(node.options):
                    if opt.callback and opt.next:
                        add(name, "the callback option ends the call with a confirmation; it takes no next", "options", i)
        elif isinstance(node, ReturningNode):
            if node.keep_digit is None or node.cancel_digit is None or node.keep_digit == node.cancel_digit:
                add(name, "keeping and cancelling the callback need two different keys", "cancel_digit")
        elif isinstance(node, HoldNode):
            if node.desk not in env.desks:
                add(name, f"unknown desk {node.desk!r}; known: {', '.join(sorted(env.desks))}", "desk")
        if node.type == "hangup" and not node.prompt:
            add(name, "path ends in silence: a hangup needs a goodbye prompt")

        # Prompts in every language the node speaks.
        for prompt_id, langs in kind.prompts(node, languages):
            missing = [lang for lang in langs if lang in env.prompts and prompt_id not in env.prompts[lang]]
            if missing:
                add(name, f"prompt {prompt_id!r} is missing in {', '.join(missing)}")

        # Placeholders: each {name} the node's prompts say must be one this node fills in.
        if env.placeholders:
            extra = env.flow_values.get(doc.name, frozenset())
            for prompt_id, use in node_prompt_uses(doc.name, name, node, languages, extra).items():
                for lang in use.languages:
                    said = env.placeholders.get(lang, {}).get(prompt_id, frozenset())
                    if said - use.fills:
                        add(name, f"prompt {prompt_id!r} ({lang}) says {braces(said - use.fills)}, which this node "
                                  f"cannot fill in: callers would hear the braces; here it can use {braces(use.fills)}",
                            *((use.field,) if use.field else ()))
                        break

    if doc.start in doc.nodes:
        reachable = _reachable(graph, doc.start)
        for name in doc.nodes:
            if name not in reachable:
                add(name, f"unreachable: no path from start {doc.start!r} leads here")
    for cycle in _input_free_cycles(graph):
        add(cycle[0], "loop with no caller input: " + " -> ".join(cycle + [cycle[0]]))
    return issues


def _valid_id(name: Any) -> bool:
    import re

    from .model import NODE_ID

    return isinstance(name, str) and re.match(NODE_ID, name) is not None


def _field_path(field: str) -> tuple[Any, ...]:
    """'options[2].next' -> ('options', 2, 'next')."""
    out: list[Any] = []
    for part in field.split("."):
        if "[" in part:
            head, index = part[:-1].split("[")
            out.extend([head, int(index)])
        else:
            out.append(part)
    return tuple(out)


def _check_options(add, name: str, options, repeat_digit: str | None, languages) -> None:
    seen_digits: dict[str, int] = {}
    for i, opt in enumerate(options):
        if opt.digit is None:
            if not opt.all_keywords():
                add(name, "option has neither a digit nor keywords: callers cannot choose it", "options", i)
            continue
        if opt.digit == repeat_digit:
            add(name, f"digit {opt.digit!r} is also the repeat key", "options", i)
        if opt.digit in seen_digits:
            add(name, f"digit {opt.digit!r} is used by options {seen_digits[opt.digit] + 1} and {i + 1}", "options", i)
        else:
            seen_digits[opt.digit] = i
    reported: set[tuple[str, int, int]] = set()  # one issue per clash, not one per language
    for lang in languages:
        owner: dict[str, int] = {}
        for i, opt in enumerate(options):
            words = opt.all_keywords() if isinstance(opt, LanguageOption) else opt.keywords_for(lang)
            for word in words:
                spoken = matching.spoken_digit(word, (lang,))
                if spoken and spoken != opt.digit and spoken in seen_digits:
                    add(name, f"keyword {word!r} sounds like key {spoken}, which is option {seen_digits[spoken] + 1}", "options", i)
                key = matching.normalize(word)
                if key in owner and owner[key] != i and (key, owner[key], i) not in reported:
                    reported.add((key, owner[key], i))
                    add(name, f"keyword {word!r} is used by options {owner[key] + 1} and {i + 1}", "options", i)
                owner.setdefault(key, i)


def _check_transfer(add, name: str, node: TransferNode, env: Environment) -> None:
    if bool(node.desk) == bool(node.number):
        add(name, "a transfer needs exactly one of desk or number")
        return
    if node.desk and node.desk not in env.desks:
        add(name, f"unknown desk {node.desk!r}; known: {', '.join(sorted(env.desks))}", "desk")
    if node.on_long_wait and not node.desk:
        add(name, "on_long_wait needs a desk: the wait is estimated from the desk's queue", "on_long_wait")
    if node.number:
        try:
            parsed = phonenumbers.parse(node.number, None)
            ok = phonenumbers.is_valid_number(parsed)
        except phonenumbers.NumberParseException:
            ok = False
        if not ok:
            add(name, f"number {node.number!r} is not a valid phone number in +E.164 form", "number")


def _reachable(graph: Mapping[str, list[tuple[str, bool]]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for target, _ in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _input_free_cycles(graph: Mapping[str, list[tuple[str, bool]]]) -> list[list[str]]:
    """Cycles made only of edges the call takes without the caller acting."""
    auto = {n: [t for t, needs_input in edges if not needs_input] for n, edges in graph.items()}
    colour: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(n: str) -> None:
        colour[n] = 1
        stack.append(n)
        for t in auto.get(n, ()):
            if colour.get(t, 0) == 0:
                visit(t)
            elif colour.get(t) == 1:
                cycles.append(stack[stack.index(t):])
        stack.pop()
        colour[n] = 2

    for n in auto:
        if colour.get(n, 0) == 0:
            visit(n)
    return cycles
