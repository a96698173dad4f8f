"""A picture of a flow, laid out by Graphviz (``dot``): steps as boxes, arrows labelled by key, word or outcome.

Works on drafts that do not validate, as far as they parse: a node that its
kind's schema accepts is drawn with that kind's edges (``ivr.flows.nodes``);
one that does not is drawn from whatever target fields it has. Arrows to
steps that do not exist end at a dashed "missing" box, and steps with
problems are outlined in red with their count. Each box is a link to the
step's form (``link``), so the picture is also a way into the editor.

Graphviz places the edge labels as part of the layout, so they never
overlap boxes or each other; the SVG it writes is given back with ids and
``data-node``/``data-from``/``data-to`` attributes for the page and tests.
"""

from __future__ import annotations

import functools
import logging
import re
import subprocess
from dataclasses import dataclass
from html import escape
from typing import Any, Callable
from urllib.parse import quote

from pydantic import TypeAdapter, ValidationError

from ivr.flows import yaml_lines
from ivr.flows.model import Node
from ivr.flows.nodes import KINDS

log = logging.getLogger(__name__)

_NODE = TypeAdapter(Node)
_TARGET_FIELDS = ("next", "open", "closed", "holiday", "on_failure", "on_no_answer", "on_busy", "on_long_wait", "on_timeout", "on_no_input")
_LABELS = {
    "next": "",
    "open": "open",
    "closed": "closed",
    "holiday": "holiday",
    "on_failure": "no valid answer",
    "on_no_answer": "no answer",
    "on_busy": "busy",
    "on_long_wait": "long wait",
    "on_timeout": "still waiting",
    "on_no_input": "silence",
}
_FILL = {
    "menu": "#ddf4ff", "language": "#ddf4ff", "transfer": "#dafbe1", "hold": "#dafbe1",
    "voicemail": "#fff8c5", "callback": "#fff8c5", "returning": "#fff8c5", "hangup": "#ffebe9", "hours": "#fbefff",
    "missing": "#ffffff", "unknown": "#ffffff",
}
MAX_TEXT = 200_000  # characters; longer drafts are refused before anything parses them (flow_pages.MAX_TEXT)
MAX_STEPS = 300  # about 15 times the shipped main flow; dot's time grows faster than the step count
DOT_SECONDS = 10


@dataclass(frozen=True)
class Arrow:
    source: str
    target: str
    label: str
    field: str = ""  # where the source says it: "next", "on_failure", "options[2].next"...


def _option_label(option: Any) -> str:
    if not isinstance(option, dict):
        return ""
    digit = option.get("digit")
    if digit is not None:
        return f"key {digit}"
    words = option.get("keywords")
    if isinstance(words, dict):
        words = next(iter(words.values()), [])
    if isinstance(words, list) and words:
        return f"“{words[0]}”"
    return ""


def edges(name: str, raw: dict) -> list[Arrow]:
    """Arrows out of one node: its kind's edges if the node is well-formed, else its target fields."""
    arrows: list[Arrow] = []
    options = raw.get("options") if isinstance(raw.get("options"), list) else []
    try:
        node = _NODE.validate_python(dict(raw))
    except ValidationError:
        node = None
    if node is not None:
        for edge in KINDS[node.type].edges(node):
            if edge.target is None:
                continue
            if edge.field.startswith("options["):
                i = int(edge.field[len("options["):].split("]")[0])
                label = _option_label(options[i] if i < len(options) else None)
            else:
                label = _LABELS.get(edge.field, edge.field)
            arrows.append(Arrow(name, str(edge.target), label, edge.field))
        return arrows
    for fieldname in _TARGET_FIELDS:
        target = raw.get(fieldname)
        if isinstance(target, str):
            arrows.append(Arrow(name, target, _LABELS.get(fieldname, fieldname), fieldname))
    for i, option in enumerate(options):
        if isinstance(option, dict) and isinstance(option.get("next"), str):
            arrows.append(Arrow(name, option["next"], _option_label(option), f"options[{i}].next"))
    return arrows


def flow_svg(
    text: str,
    problems: dict[str, int] | None = None,
    link: Callable[[str], str] | None = None,
    said: Callable[[str], str] | None = None,
    selected: str | None = None,
) -> str:
    """SVG markup for a flow text; a short explanation in SVG if it does not parse, is too long or cannot be drawn.

    ``problems`` counts the validator's problems per node; ``link`` gives a
    node's form address; ``said`` a short text of what a prompt id says.
    """
    if len(text) > MAX_TEXT:
        return _message(f"No picture: the flow is longer than {MAX_TEXT:,} characters.")
    try:
        data = yaml_lines.load(text)
    except yaml_lines.YamlSyntaxError as exc:
        return _message(f"No picture: the YAML does not parse (line {exc.line}).")
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), dict) or not data["nodes"]:
        return _message("No picture: the flow has no steps yet.")
    if len(data["nodes"]) > MAX_STEPS:
        return _message(f"No picture: the flow has {len(data['nodes']):,} steps, more than {MAX_STEPS} can be drawn.")
    nodes = {str(name): (raw if isinstance(raw, dict) else {}) for name, raw in data["nodes"].items()}
    start = data.get("start") if isinstance(data.get("start"), str) else None
    dot, ids = _dot(nodes, start, problems or {}, link, said, selected)
    svg = _render(dot)
    if svg is None:
        return _message("No picture: Graphviz (the dot program) is not installed or failed; see the server log.")
    return _annotate(svg, ids)


def _dot(nodes, start, problems, link, said, selected) -> tuple[str, dict[str, tuple[str, ...]]]:
    arrows = [a for name, raw in nodes.items() for a in edges(name, raw)]
    missing = sorted({a.target for a in arrows if a.target not in nodes})
    number = {name: f"n{i}" for i, name in enumerate(list(nodes) + missing)}
    ids: dict[str, tuple[str, ...]] = {}
    out = [
        "digraph flow {",
        'graph [rankdir=TB, nodesep=0.25, ranksep=0.45, fontname="DejaVu Sans", bgcolor="transparent", pad=0.1];',
        'node [shape=box, style="rounded,filled", fontname="DejaVu Sans", fontsize=10, color="#57606a", margin="0.12,0.06"];',
        'edge [fontname="DejaVu Sans", fontsize=9, color="#57606a", fontcolor="#0b4f8a"];',
    ]
    if start in nodes:
        out.append('call [shape=oval, label="call comes in", style=filled, fillcolor="#24292f", fontcolor="white", id="call"];')
        out.append(f"call -> {number[start]};")
    for name, raw in nodes.items():
        kind = raw.get("type") if isinstance(raw.get("type"), str) and raw.get("type") in KINDS else "unknown"
        out.append(_node_line(number[name], name, kind, raw, problems.get(name, 0), link, said, name == selected))
        ids[number[name]] = ("node", name, kind)
    for name in missing:
        label = f"<<b>{escape(_short(name))}</b><br/>missing step>"
        out.append(f'{number[name]} [label={label}, style="rounded,dashed", color="#a40e26", fillcolor="white", id="{number[name]}"];')
        ids[number[name]] = ("node", name, "missing")
    for i, a in enumerate(arrows):
        edge_id = f"e{i}"
        label = f", label={_quote(' ' + a.label + ' ')}" if a.label else ""
        out.append(f'{number[a.source]} -> {number[a.target]} [id="{edge_id}"{label}];')
        ids[edge_id] = ("edge", a.source, a.target, a.field)
    out.append("}")
    return "\n".join(out), ids


def _node_line(nid, name, kind, raw, problems, link, said, selected) -> str:
    lines = [f"<b>{escape(_short(name))}</b>", escape(kind)]
    prompt = raw.get("prompt")
    if not isinstance(prompt, str):
        listed = raw.get("prompts")
        prompt = listed[0] if isinstance(listed, list) and listed else None
    if isinstance(prompt, str) and said:
        words = said(prompt)
        if words:
            lines.append(f"<i>“{escape(_short(words, 34))}”</i>")
    if problems:
        lines.append(f'<font color="#a40e26">⚠ {problems} problem{"s" if problems != 1 else ""}</font>')
    attrs = [
        f"label=<{'<br/>'.join(lines)}>",
        f'id="{nid}"',
        f'fillcolor="{_FILL.get(kind, "#f6f8fa")}"',
        f"tooltip={_quote(f'{name} ({kind})')}",
    ]
    if problems:
        attrs += ['color="#a40e26"', "penwidth=2.5"]
    if selected:
        attrs += ["penwidth=3", 'color="#0b57d0"']
    if link:
        attrs.append(f"URL={_quote(link(name))}")
    return f"{nid} [{', '.join(attrs)}];"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


@functools.lru_cache(maxsize=64)
def _render(dot: str) -> str | None:
    try:
        done = subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True, timeout=DOT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.error("flow picture: cannot run Graphviz's dot: %s", exc)
        return None
    if done.returncode != 0:
        log.error("flow picture: dot failed: %s", done.stderr.decode(errors="replace")[:500])
        return None
    return done.stdout.decode()


_G = re.compile(r'<g id="((?:n|e)\d+)" class="(node|edge)">')


def _annotate(svg: str, ids: dict[str, tuple[str, ...]]) -> str:
    """Graphviz's SVG without its prologue and comments, with our classes and data attributes."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.S)
    svg = svg.replace("<svg ", '<svg class="flow-picture" role="group" aria-label="Picture of the flow" ', 1)
    svg = svg.replace("<a xlink:href=", "<a href=").replace(" xlink:title=", " aria-label=")  # SVG 2 links

    def tag(m: re.Match) -> str:
        what = ids.get(m.group(1))
        if what is None:
            return m.group(0)
        if what[0] == "edge":
            return (f'<g id="{m.group(1)}" class="edge" data-from="{escape(what[1])}" data-to="{escape(what[2])}" '
                    f'data-field="{escape(what[3])}">')
        return f'<g id="{m.group(1)}" class="node kind-{what[2]}" data-node="{escape(what[1])}">'

    return _G.sub(tag, svg)


def _short(name: str, limit: int = 24) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _message(text: str) -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" class="flow-picture" viewBox="0 0 420 40" width="420" height="40" '
        f'role="img" aria-label="{escape(text)}"><text x="10" y="25">{escape(text)}</text></svg>'
    )


def node_link(base: str) -> Callable[[str], str]:
    """Links to a step's form on the visual editor at ``base``."""
    return lambda name: f"{base}?node={quote(name)}#step"
