"""The house a newcomer reads: ivr/'s top level holds only the app factory, its config and its services, no module
is over 600 lines, and no two modules import each other, directly or round a longer loop (imports inside functions
count too: they are circles only hidden until run time)."""

from __future__ import annotations

import ast
from pathlib import Path

IVR = Path(__file__).resolve().parent.parent / "ivr"
TOP_LEVEL = {"__init__.py", "config.py", "services.py"}


def module_name(path: Path) -> str:
    parts = path.relative_to(IVR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in IVR.rglob("*.py")}


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The ivr modules this module imports anywhere in it (not under ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(), str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            # "from ivr.staff import auth" imports the module ivr.staff.auth; "from ivr.x import f" imports ivr.x
            targets = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in known else origin for a in node.names]
        else:
            continue
        if _type_checking_only(node, parents):
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_itself_round_a_circle():
    found = modules()
    known = set(found)
    graph = {name: imports_of(name, path, known) for name, path in found.items()}
    # Flask's blueprint-per-package pattern: a package's __init__ makes ``bp`` and then imports the modules that
    # register views on it (``from . import bp``). Python has the package half-made before those run, so an
    # edge from a module to its own package's __init__ is not a circle; any other is.
    for name in graph:
        graph[name] = {t for t in graph[name] if not (name.startswith(t + ".") and found[t].name == "__init__.py")}
    assert cycles(graph) == []


def test_the_top_level_holds_only_the_app_config_and_services():
    loose = sorted(p.name for p in IVR.glob("*.py") if p.name not in TOP_LEVEL)
    assert loose == [], f"modules outside a package: {loose}"


MOST_LINES = 600  # a module a newcomer can read in one sitting (issue 34)


def test_no_module_is_over_600_lines():
    long = {name: n for name, path in sorted(modules().items()) if (n := len(path.read_text().splitlines())) > MOST_LINES}
    assert long == {}, f"modules over {MOST_LINES} lines (split them by what their parts are for): {long}"
