"""The package's shape from its source: who imports whom, cycles, the longest
module and the longest functions.

    python scripts/import_graph.py [PACKAGE_DIR] [--edges]

Imports inside functions count too (they are how the hook keeps its start
light, and they still make a dependency); ``if TYPE_CHECKING:`` imports do
not, since they never run.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_bytes())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if _type_checking_only(node, parents):
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for target in targets:
            # The deepest known module the import names.
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
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
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def functions(path: Path, name: str) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_bytes())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            out.append((length, f"{name}.{node.name}"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("package", nargs="?", default="ratchet")
    parser.add_argument("--edges", action="store_true", help="list every import")
    args = parser.parse_args()
    package = Path(args.package).resolve()
    files = {module_name(p, package): p for p in sorted(package.rglob("*.py"))}
    graph = {name: imports(path, name, set(files)) for name, path in files.items()}
    lines = {name: len(path.read_text().splitlines()) for name, path in files.items()}
    longest = sorted(((n, m) for m, n in lines.items()), reverse=True)[:5]
    funcs = sorted(
        (f for name, path in files.items() for f in functions(path, name)), reverse=True
    )[:5]
    found = cycles(graph)
    edges = sum(map(len, graph.values()))
    print(f"{len(files)} modules, {sum(lines.values())} lines, {edges} imports")
    print(f"import cycles: {len(found)}")
    for component in found:
        print("  " + " <-> ".join(component))
    print("longest modules: " + ", ".join(f"{m} ({n})" for n, m in longest))
    print("longest functions: " + ", ".join(f"{f} ({n})" for n, f in funcs))
    if args.edges:
        for name in sorted(graph):
            print(f"{name} -> {', '.join(sorted(graph[name])) or '-'}")


if __name__ == "__main__":
    main()
