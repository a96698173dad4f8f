"""A picture of a flow: nodes as boxes by kind, arrows labelled by key, keyword or outcome, as SVG.

Works on drafts that do not validate, as far as they parse: a node that its
kind's schema accepts is drawn with that kind's edges (``ivr.flows.nodes``);
one that does not is drawn from whatever target fields it has. Arrows to
nodes that do not exist end at a dashed "missing" box.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from html import escape
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ivr.flows import yaml_lines
from ivr.flows.model import Node
from ivr.flows.nodes import KINDS

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 170, 46, 26, 70, 20
_NODE = TypeAdapter(Node)
_TARGET_FIELDS = ("next", "open", "closed", "holiday", "on_failure", "on_no_answer", "on_busy", "on_long_wait", "on_timeout")
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
}


@dataclass(frozen=True)
class Arrow:
    source: str
    target: str
    label: str


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


def _edges(name: str, raw: dict) -> list[Arrow]:
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
            arrows.append(Arrow(name, str(edge.target), label))
        return arrows
    for fieldname in _TARGET_FIELDS:
        target = raw.get(fieldname)
        if isinstance(target, str):
            arrows.append(Arrow(name, target, _LABELS.get(fieldname, fieldname)))
    for option in options:
        if isinstance(option, dict) and isinstance(option.get("next"), str):
            arrows.append(Arrow(name, option["next"], _option_label(option)))
    return arrows


MAX_TEXT = 200_000  # characters; longer drafts are refused before anything parses them (flow_pages.MAX_TEXT)


def flow_svg(text: str) -> str:
    """SVG markup for a flow text; a short explanation in SVG if it does not parse at all or is too long."""
    if len(text) > MAX_TEXT:
        return _message(f"No picture: the flow is longer than {MAX_TEXT:,} characters.")
    try:
        data = yaml_lines.load(text)
    except yaml_lines.YamlSyntaxError as exc:
        return _message(f"No picture: the YAML does not parse (line {exc.line}).")
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), dict) or not data["nodes"]:
        return _message("No picture: the flow has no nodes yet.")
    nodes: dict[str, dict] = {}
    for name, raw in data["nodes"].items():
        nodes[str(name)] = raw if isinstance(raw, dict) else {}
    arrows = [a for name, raw in nodes.items() for a in _edges(name, raw)]
    missing = sorted({a.target for a in arrows if a.target not in nodes})
    start = data.get("start") if isinstance(data.get("start"), str) else None

    # Layers: breadth-first from start; nodes not reached go in a last layer.
    out_of: dict[str, list[str]] = {}
    for a in arrows:
        out_of.setdefault(a.source, []).append(a.target)
    layer: dict[str, int] = {}
    if start in nodes:
        layer[start] = 0
        todo = deque([start])
        while todo:
            current = todo.popleft()
            for target in out_of.get(current, ()):
                if target in nodes and target not in layer:
                    layer[target] = layer[current] + 1
                    todo.append(target)
    last = max(layer.values(), default=-1) + 1
    for name in nodes:
        layer.setdefault(name, last)
    below: dict[str, int] = {}
    for a in arrows:
        if a.target not in nodes:
            below[a.target] = max(below.get(a.target, 0), layer[a.source] + 1)
    for name in missing:
        layer[name] = below[name]
    rows: dict[int, list[str]] = {}
    for name in list(nodes) + missing:
        rows.setdefault(layer[name], []).append(name)
    pos: dict[str, tuple[int, int]] = {}
    for depth, names in sorted(rows.items()):
        for i, name in enumerate(names):
            pos[name] = (MARGIN + i * (BOX_W + GAP_X), MARGIN + depth * (BOX_H + GAP_Y))
    width = max(x for x, _ in pos.values()) + BOX_W + MARGIN
    height = max(y for _, y in pos.values()) + BOX_H + MARGIN

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flow-picture" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="Picture of the flow">',
        '<defs><marker id="arrowhead" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#57606a"/></marker></defs>',
    ]
    for a in arrows:
        out.append(_arrow(a, pos))
    for name in nodes:
        kind = nodes[name].get("type")
        kind = kind if isinstance(kind, str) and kind in KINDS else "unknown"
        out.append(_box(name, kind, pos[name], name == start))
    for name in missing:
        out.append(_box(name, "missing", pos[name], False))
    out.append("</svg>")
    return "\n".join(out)


def _box(name: str, kind: str, at: tuple[int, int], is_start: bool) -> str:
    x, y = at
    classes = f"node kind-{kind}" + (" start" if is_start else "")
    title = "missing node" if kind == "missing" else kind
    return (
        f'<g class="{classes}" data-node="{escape(name)}"><title>{escape(name)} ({title})</title>'
        f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6"/>'
        f'<text x="{x + BOX_W / 2}" y="{y + 19}" text-anchor="middle" class="node-name">{escape(_short(name))}</text>'
        f'<text x="{x + BOX_W / 2}" y="{y + 36}" text-anchor="middle" class="node-kind">{escape(title)}</text></g>'
    )


def _arrow(a: Arrow, pos: dict[str, tuple[int, int]]) -> str:
    sx, sy = pos[a.source]
    tx, ty = pos[a.target]
    x1, y1 = sx + BOX_W / 2, sy + BOX_H
    x2, y2 = tx + BOX_W / 2, ty
    if ty > sy:
        path = f"M{x1},{y1} L{x2},{y2}"
        lx, ly = (x1 + x2) / 2, (y1 + y2) / 2
    else:  # back or sideways: curve out to the right
        x1, y1 = sx + BOX_W, sy + BOX_H / 2
        x2, y2 = tx + BOX_W, ty + BOX_H / 2
        bend = max(x1, x2) + 40 + abs(sy - ty) / 6
        path = f"M{x1},{y1} C{bend},{y1} {bend},{y2} {x2},{y2}"
        lx, ly = bend - 10, (y1 + y2) / 2
    label = (
        f'<text x="{lx:.0f}" y="{ly:.0f}" text-anchor="middle" class="edge-label">{escape(a.label)}</text>'
        if a.label
        else ""
    )
    return (
        f'<g class="edge" data-from="{escape(a.source)}" data-to="{escape(a.target)}">'
        f'<path d="{path}" fill="none" stroke="#57606a" marker-end="url(#arrowhead)"/>{label}</g>'
    )


def _short(name: str, limit: int = 22) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _message(text: str) -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" class="flow-picture" viewBox="0 0 420 40" width="420" height="40" '
        f'role="img" aria-label="{escape(text)}"><text x="10" y="25">{escape(text)}</text></svg>'
    )
