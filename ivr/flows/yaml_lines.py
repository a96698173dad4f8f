"""YAML loading that remembers line numbers, so flow errors can name the line.

Mappings load as :class:`LineDict` and sequences as :class:`LineList`; both are
ordinary ``dict``/``list`` subclasses with a ``line`` (1-based, where the item
starts) and ``lines`` (line of each key or index).
"""

from __future__ import annotations

from typing import Any

import yaml


class LineDict(dict):
    line: int = 0
    lines: dict[Any, int]


class LineList(list):
    line: int = 0
    lines: dict[int, int]


MAX_DEPTH = 40  # nesting of mappings and sequences; a flow needs under 10
MAX_ALIASES = 100  # *alias references: a few are fine, thousands are a "billion laughs"


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences carry their source lines.

    Deep nesting is refused when the composer reaches MAX_DEPTH, long before
    PyYAML's recursive composer and constructor could exhaust Python's stack
    (5,000 levels of ``[`` raised RecursionError); many aliases are refused too,
    since each one multiplies what later code walks.
    """

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent, index):  # noqa: D401 - PyYAML's hook
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, f"more than {MAX_ALIASES} aliases (*name)", mark)
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep (depth limit)", mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.lines = {i: child.start_mark.line + 1 for i, child in enumerate(node.value)}
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


class YamlSyntaxError(ValueError):
    """The text is not valid YAML; ``line`` says where."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def load(text: str) -> Any:
    """Parse YAML text, keeping line numbers. Raises :class:`YamlSyntaxError`."""
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or str(exc)
        raise YamlSyntaxError(f"not valid YAML: {problem}", line) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"not valid YAML: {exc}", None) from None
    except RecursionError:  # a safety net: MAX_DEPTH stops nesting long before this
        raise YamlSyntaxError(f"not valid YAML: nested more than {MAX_DEPTH} levels deep (depth limit)", None) from None


def line_of(data: Any, path: tuple[Any, ...]) -> int | None:
    """Best line for a path of keys/indexes into loaded data (deepest known)."""
    line = getattr(data, "line", None) or None
    current = data
    for part in path:
        lines = getattr(current, "lines", None)
        if lines is None or part not in lines:
            break
        line = lines[part]
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            break
        inner = getattr(current, "line", None)
        if inner and not isinstance(current, dict):
            line = inner
    return line
