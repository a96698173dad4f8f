"""Change a flow's YAML text one step at a time, keeping everything the change did not touch.

The visual editor's forms end here: set a node's fields, add, remove or
rename a node, choose the start. The text is read and written with
ruamel.yaml's round-trip mode, so comments, key order, quoting and the
flow style of short options (``{digit: 1, next: x}``) survive, and the YAML
view shows the same file with only the edited lines changed.

Nothing here validates a flow: the caller checks the new text with the
flow validator, as it would a text typed in the YAML view.
"""

from __future__ import annotations

import io
import re
from typing import Any, Iterable

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from . import yaml_lines
from .model import NODE_ID

_OPTION_NEXT = re.compile(r"options\[(\d+)\]\.next")
_TARGETS = ("next", "open", "closed", "holiday", "on_failure", "on_no_answer", "on_busy", "on_long_wait", "on_timeout", "on_no_input")


class EditError(ValueError):
    """The edit cannot be made (the text does not parse, a node is missing, a name is taken...)."""


def _indents(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) indents as ruamel.yaml wants them, guessed from the text (default 2, 4, 2)."""
    mapping, offset = 2, 2
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for prev, line in zip(lines, lines[1:]):
        if prev.rstrip().endswith(":") and not line.lstrip().startswith("- "):
            step = len(line) - len(line.lstrip()) - (len(prev) - len(prev.lstrip()))
            if step > 0:
                mapping = step
                break
    for prev, line in zip(lines, lines[1:]):
        if prev.rstrip().endswith(":") and line.lstrip().startswith("- "):
            offset = max(0, len(line) - len(line.lstrip()) - (len(prev) - len(prev.lstrip())))
            break
    return mapping, offset + 2, offset


class FlowEdit:
    """One flow text, open for editing; ``text()`` gives the edited text."""

    def __init__(self, text: str) -> None:
        try:
            yaml_lines.load(text)  # the same depth and alias limits as everywhere else, before ruamel reads it
        except yaml_lines.YamlSyntaxError as exc:
            raise EditError(f"the YAML does not parse (line {exc.line}): fix it in the YAML view first") from None
        self._yaml = YAML()
        self._yaml.preserve_quotes = True
        self._yaml.width = 4096
        mapping, sequence, offset = _indents(text)
        self._yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
        try:
            data = self._yaml.load(text) if text.strip() else CommentedMap()
        except YAMLError as exc:  # pragma: no cover - yaml_lines accepted it
            raise EditError(f"the YAML does not parse: {exc}") from None
        if not isinstance(data, CommentedMap):
            raise EditError("a flow is a mapping (name:, start:, nodes:) at the top")
        if not isinstance(data.get("nodes"), CommentedMap):
            data["nodes"] = CommentedMap()
        self.data = data

    @property
    def nodes(self) -> CommentedMap:
        return self.data["nodes"]

    def node(self, node_id: str) -> CommentedMap:
        raw = self.nodes.get(node_id)
        if not isinstance(raw, CommentedMap):
            raise EditError(f"there is no step named {node_id!r}")
        return raw

    def text(self) -> str:
        out = io.StringIO()
        self._yaml.dump(self.data, out)
        return out.getvalue()

    # --- edits ---------------------------------------------------------------------

    def set_fields(self, node_id: str, values: dict[str, Any], clear: Iterable[str] = ()) -> None:
        """Set fields of a node (keeping their place), drop the ``clear`` ones; ``options`` is merged row by row."""
        node = self.node(node_id)
        for name in clear:
            if name in node:
                del node[name]
        for name, value in values.items():
            if name == "options":
                self._set_options(node, value)
            elif not _same(node.get(name), value):
                node[name] = _plain(value, node.get(name))

    def _set_options(self, node: CommentedMap, rows: list[dict[str, Any]]) -> None:
        old = node.get("options")
        if not isinstance(old, CommentedSeq):
            old = CommentedSeq()
            node["options"] = old
        flow_style = bool(old) and all(isinstance(o, CommentedMap) and o.fa.flow_style() for o in old)
        for i, row in enumerate(rows):
            if i < len(old) and isinstance(old[i], CommentedMap):
                target = old[i]
                for key in [k for k in target if k not in row]:
                    del target[key]
                for key, value in row.items():
                    if not _same(target.get(key), value):
                        target[key] = _plain(value, target.get(key))
            else:
                fresh = CommentedMap((k, _plain(v, None)) for k, v in row.items())
                if flow_style:
                    fresh.fa.set_flow_style()
                if i < len(old):
                    old[i] = fresh
                else:
                    old.append(fresh)
        while len(old) > len(rows):
            old.pop()

    def add_node(self, node_id: str, kind: str, values: dict[str, Any] | None = None) -> None:
        """A new node at the end of ``nodes:``; the first node of an empty flow becomes its start."""
        check_id(node_id)
        if node_id in self.nodes:
            raise EditError(f"a step named {node_id!r} already exists")
        fresh = CommentedMap([("type", kind)])
        for key, value in (values or {}).items():
            fresh[key] = _plain(value, None)
        self.nodes[node_id] = fresh
        if not isinstance(self.data.get("start"), str) or self.data.get("start") not in self.nodes:
            self.data["start"] = node_id

    def remove_node(self, node_id: str) -> list[str]:
        """Remove a node and every arrow to it; the nodes whose arrows were removed, for the message."""
        self.node(node_id)
        del self.nodes[node_id]
        touched = []
        for other, raw in self.nodes.items():
            if not isinstance(raw, CommentedMap):
                continue
            hit = False
            for field in _TARGETS:
                if raw.get(field) == node_id:
                    del raw[field]
                    hit = True
            options = raw.get("options")
            if isinstance(options, list):
                for option in options:
                    if isinstance(option, dict) and option.get("next") == node_id:
                        del option["next"]
                        hit = True
            if hit:
                touched.append(str(other))
        if self.data.get("start") == node_id:
            del self.data["start"]
        return touched

    def rename_node(self, old: str, new: str) -> None:
        """Give a node a new name, and every arrow to it (and the start) follows."""
        check_id(new)
        if new == old:
            return
        if new in self.nodes:
            raise EditError(f"a step named {new!r} already exists")
        self.node(old)
        position = list(self.nodes).index(old)
        value = self.nodes.pop(old)
        self.nodes.insert(position, new, value)
        for raw in self.nodes.values():
            if not isinstance(raw, CommentedMap):
                continue
            for field in _TARGETS:
                if raw.get(field) == old:
                    raw[field] = new
            options = raw.get("options")
            if isinstance(options, list):
                for option in options:
                    if isinstance(option, dict) and option.get("next") == old:
                        option["next"] = new
        if self.data.get("start") == old:
            self.data["start"] = new

    def set_target(self, node_id: str, field: str, target: str) -> None:
        """Point one way out of a node (``next``, ``on_failure``, ``options[2].next``...) at another node."""
        raw = self.node(node_id)
        self.node(target)
        option = _OPTION_NEXT.fullmatch(field)
        if option:
            options = raw.get("options")
            i = int(option.group(1))
            if not isinstance(options, list) or i >= len(options) or not isinstance(options[i], dict):
                raise EditError(f"step {node_id!r} has no choice {i + 1}")
            options[i]["next"] = target
        elif field in _TARGETS:
            raw[field] = target
        else:
            raise EditError(f"{field!r} is not a way out of a step")

    def set_start(self, node_id: str) -> None:
        self.node(node_id)
        self.data["start"] = node_id


def check_id(node_id: str) -> None:
    if not re.fullmatch(NODE_ID, node_id or ""):
        raise EditError(
            f"{node_id!r} cannot name a step: use lower-case letters, digits and _ (starting with a letter), e.g. main_menu"
        )


def _same(old: Any, new: Any) -> bool:
    """True if writing ``new`` would not change what the flow means (1 and "1" are the same key)."""
    if isinstance(old, (list, dict)) or isinstance(new, (list, dict)):
        return _comparable(old) == _comparable(new)
    if isinstance(old, bool) or isinstance(new, bool):
        return old is new
    return old is not None and new is not None and str(old) == str(new)


def _comparable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value if isinstance(value, bool) or value is None else str(value)


def _plain(value: Any, like: Any) -> Any:
    """A value to store: lists and maps short enough are written in flow style, as people write them."""
    if isinstance(value, dict):
        out = CommentedMap((k, _plain(v, None)) for k, v in value.items())
        if isinstance(like, CommentedMap) and not like.fa.flow_style():
            return out
        out.fa.set_flow_style()
        return out
    if isinstance(value, list):
        seq = CommentedSeq(_plain(v, None) for v in value)
        if not (isinstance(like, CommentedSeq) and not like.fa.flow_style()):
            seq.fa.set_flow_style()
        return seq
    return value
