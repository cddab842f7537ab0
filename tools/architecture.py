"""The package's shape in numbers: modules, import arrows between them (lazy imports inside functions
included), levels (the longest chain of imports), arrows that point back up (imports inside a cycle),
and the longest functions. The rules the layout keeps are checked by tests/test_architecture.py with
the same reader.

    python tools/architecture.py [PACKAGE_DIR]     # default: specblur/ of this checkout
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, root: Path, modules: set[str]) -> set[str]:
    """The package's ``modules`` that ``path`` imports, anywhere in it (top level or inside functions)."""
    package = root.name
    tree = ast.parse(path.read_text(), str(path))
    here = module_name(path, root)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == package}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative
                base = here.split(".")[: len(here.split(".")) - node.level + (path.name == "__init__.py")]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != package:
                continue
            # ``from P import a``: the module ``P.a`` where there is one, else (a name in P) P itself
            found |= {f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names}
    return found


def graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (names that are not modules are dropped)."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    edges = {}
    for name, path in files.items():
        targets = {t for t in imports(path, root, set(files)) if t in files and t != name}
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[set[str]] = []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in edges:
        if v not in index:
            visit(v)
    return out


def levels(edges: dict[str, set[str]]) -> int:
    """The longest chain of imports, counting modules, with each cycle taken as one module."""
    comp_of = {v: i for i, comp in enumerate(cycles(edges)) for v in comp}
    node = {v: comp_of.get(v, v) for v in edges}
    dag: dict[object, set[object]] = {}
    for v, targets in edges.items():
        dag.setdefault(node[v], set()).update(node[t] for t in targets if node[t] != node[v])
    depth: dict[object, int] = {}

    def d(n: object) -> int:
        if n not in depth:
            depth[n] = 1 + max((d(m) for m in dag.get(n, ())), default=0)
        return depth[n]

    return max((d(n) for n in dag), default=0)


def upward(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Arrows inside a cycle that point back up: for each cycle, the arrows a depth-first walk meets
    back to a module still being walked (the fewest one could cut to break the cycles, roughly)."""
    back: list[tuple[str, str]] = []
    state: dict[str, int] = {}

    def walk(v: str) -> None:
        state[v] = 1
        for w in sorted(edges[v]):
            if state.get(w) == 1:
                back.append((v, w))
            elif w not in state:
                walk(w)
        state[v] = 2

    for v in sorted(edges):
        if v not in state:
            walk(v)
    return back


def longest_functions(root: Path, n: int = 8) -> list[tuple[int, str]]:
    found = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found.append((node.end_lineno - node.lineno + 1, f"{module_name(path, root)}.{node.name}"))
    return sorted(found, reverse=True)[:n]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("package", nargs="?", default=str(Path(__file__).resolve().parent.parent / "specblur"))
    root = Path(p.parse_args().package).resolve()
    edges = graph(root)
    arrows = sum(len(t) for t in edges.values())
    print(f"modules {len(edges)}, import arrows {arrows}, levels {levels(edges)}")
    back = upward(edges)
    print(f"arrows back up (inside cycles): {len(back)}")
    for a, b in back:
        print(f"  {a} -> {b}")
    print("longest functions (lines):")
    for lines, name in longest_functions(root):
        print(f"  {lines:4d}  {name}")


if __name__ == "__main__":
    main()
