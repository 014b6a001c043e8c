"""The package's shape: no import circles (function-level imports included, `if TYPE_CHECKING:`
blocks left out), and the detection side never importing the training side."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in SRC.rglob("*.py"):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The emodet modules ``path`` imports anywhere in it (a `from package import submodule` counts
    as the submodule only)."""
    tree = ast.parse(path.read_text())
    typing_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and getattr(block.test, "id", "") == "TYPE_CHECKING" for node in ast.walk(block)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("emodet"):
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & modules.keys()
            found |= submodules | ({node.module} if len(submodules) < len(node.names) else set())
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("emodet.")}
    return found & modules.keys()


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name, "emodet"} for name, path in modules.items()}


def _cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path start -> ... -> start, if there is one."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in graph[node]:
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


def test_no_import_circles():
    graph = _graph()
    cycles = [cycle for name in sorted(graph) if (cycle := _cycle_through(graph, name))]
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles[:5])


def test_detection_never_imports_training_or_evaluation():
    graph = _graph()
    detection = [name for name in graph if name.startswith(("emodet.inference", "emodet.serving"))]
    assert len(detection) > 10
    reached = set(detection)
    frontier = list(detection)
    while frontier:  # everything the detection side imports, directly or not
        for nxt in graph[frontier.pop()] - reached:
            reached.add(nxt)
            frontier.append(nxt)
    heavy = sorted(name for name in reached if name.startswith(("emodet.training", "emodet.evaluation")))
    assert not heavy, f"the detection side reaches {heavy}"
