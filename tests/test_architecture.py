"""The walls between the parts hold: no import cycles, ``shared`` imports none of the
others, the gateway and the clinic never import each other (the site is composed in
``services.site``), and the product never imports its test kit."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("gateway", "analyzer", "services", "shared")
OURS = (*PRODUCT, "testkit", "tests", "benchmarks")
# Who may import whom, by top-level part (services: the entry points compose the rest).
MAY_IMPORT = {
    "shared": {"shared"},
    "gateway": {"gateway", "shared"},
    "analyzer": {"analyzer", "shared"},
    "services.clinic": {"services.clinic", "shared"},
    "services": {"services", "gateway", "analyzer", "shared"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Our modules ``path`` imports at run time (``if TYPE_CHECKING:`` blocks left out)."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in OURS}


def product_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for part in PRODUCT for p in (ROOT / part).rglob("*.py")}
    return {name: {i for i in imports_of(path) if i in files} for name, path in files.items()}


def part_of(module: str) -> str:
    return "services.clinic" if module.startswith("services.clinic") else module.split(".")[0]


def test_each_part_imports_only_what_it_may() -> None:
    wrong = []
    for name in product_graph():
        allowed = MAY_IMPORT[part_of(name)]
        for imported in sorted(imports_of(_path(name))):
            target = part_of(imported)
            if target not in allowed and imported.split(".")[0] not in allowed:
                wrong.append(f"{name} imports {imported}")
    assert not wrong, "\n".join(wrong)


def _path(module: str) -> Path:
    base = ROOT / Path(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def test_no_import_cycles_in_the_product() -> None:
    graph = product_graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)
