"""Structure of the code, read with `ast` (nothing here imports advnets).

- The modules of the `advnets` package import each other without a cycle.
- Every function and method in advnets/ and benchmarks/ is under MAX_FUNCTION_LINES lines.
"""

import ast
from collections import deque
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "advnets"
MAX_FUNCTION_LINES = 50  # a function's length (def line to last line, decorators excluded) < this


# --- import graph ------------------------------------------------------------------------------


def _module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (packages by __init__.py)."""
    modules = {}
    for path in sorted((REPO / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under node, at any depth (functions included), except those in the
    body of an `if TYPE_CHECKING:` block (its `else:` branch runs, so it counts)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.orelse:
                yield from _imports(ast.Module(body=[stmt], type_ignores=[]))
        else:
            yield from _imports(child)


def _deepest(name: str, modules: dict[str, Path]) -> str | None:
    """The deepest module of the package that the dotted name lies in, if any."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _from_base(module: str, node: ast.ImportFrom, modules: dict[str, Path]) -> str:
    """The absolute dotted name that `from <base> import ...` names (relative imports resolved)."""
    if node.level == 0:
        return node.module or ""
    is_package = modules[module].name == "__init__.py"
    package = module.split(".") if is_package else module.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def _targets(module: str, node: ast.Import | ast.ImportFrom, modules: dict[str, Path]) -> set[str]:
    """The package's modules an import statement depends on, each resolved to the deepest file:
    `from advnets.x import y` is advnets.x.y when that is a module, advnets.x otherwise (so
    `from advnets import name` is advnets/__init__.py unless name is a submodule)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = _from_base(module, node, modules)
        names = [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
        names = names or [base]
    targets = {_deepest(name, modules) for name in names}
    return {target for target in targets if target is not None and target != module}


def _import_graph() -> dict[str, dict[str, str]]:
    """module -> {module it imports: where (file:line of the first such import, and whether it
    is inside a function)}."""
    modules = _module_files()
    graph: dict[str, dict[str, str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        in_function = {
            id(node)
            for func in ast.walk(tree)
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef)
            for node in _imports(func)
        }
        edges: dict[str, str] = {}
        for node in sorted(_imports(tree), key=lambda n: n.lineno):
            where = f"{path.relative_to(REPO)}:{node.lineno}"
            where += ", in a function" if id(node) in in_function else ""
            for target in _targets(module, node, modules):
                edges.setdefault(target, where)
        graph[module] = edges
    return graph


def _strongly_connected(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _shortest_cycle(graph: dict[str, dict[str, str]], start: str) -> list[str]:
    """The shortest import path from start back to start (breadth first)."""
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for succ in sorted(graph[node]):
            if succ == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if succ not in parent:
                parent[succ] = node
                queue.append(succ)
    return []


def _describe(graph: dict[str, dict[str, str]], cycle: list[str]) -> str:
    steps = [cycle[0]]
    for source, target in zip(cycle, cycle[1:], strict=False):
        steps.append(f"  -> {target}  ({graph[source][target]})")
    return "\n".join(steps)


def test_no_import_cycle():
    graph = _import_graph()
    assert any(graph.values()), "no import between advnets' modules was found"
    cycles = [_shortest_cycle(graph, component[0]) for component in _strongly_connected(graph)]
    assert not cycles, "import cycles among advnets' modules:\n\n" + "\n\n".join(
        _describe(graph, cycle) for cycle in cycles
    )


# --- function length -----------------------------------------------------------------------------


def _functions(root: Path) -> Iterator[tuple[Path, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield path, node


def test_functions_are_short():
    offenders = []
    for directory in (PACKAGE, "benchmarks"):
        for path, node in _functions(REPO / directory):
            length = node.end_lineno - node.lineno + 1  # lineno is the def line, not a decorator's
            if length >= MAX_FUNCTION_LINES:
                where = f"{path.relative_to(REPO)}:{node.lineno}"
                offenders.append(f"{where} {node.name} ({length} lines)")
    assert not offenders, (
        f"functions of {MAX_FUNCTION_LINES} lines or more (split them):\n" + "\n".join(offenders)
    )
