"""The layout's rules (docs/ARCHITECTURE.md), read from the imports of every module, lazy imports
inside functions included: a change that breaks one fails here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import architecture  # noqa: E402

PACKAGE = ROOT / "specblur"
EDGES = architecture.graph(PACKAGE)
RAW = {
    name: architecture.imports(path, PACKAGE, set(EDGES))
    for name, path in ((architecture.module_name(p, PACKAGE), p) for p in PACKAGE.rglob("*.py"))
}
FILES_LAYER = (
    "audio", "container", "metadata", "codes", "labels", "plot", "files", "errors", "config", "version", "cancel",
)  # fmt: skip


def _third_party(path: Path) -> set[str]:
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def _in(name: str, room: str) -> bool:
    return name == f"specblur.{room}" or name.startswith(f"specblur.{room}.")


def test_the_reader_sees_lazy_and_package_imports(tmp_path: Path) -> None:
    """The rules below are only as good as the reader: it must see an import inside a function and a
    ``from package import module``."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("def f():\n    from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("from pkg import c\n")
    (pkg / "c.py").write_text("import pkg.sub.a\n")
    edges = architecture.graph(pkg)
    assert edges["pkg.sub.a"] == {"pkg.sub.b"} and edges["pkg.sub.b"] == {"pkg.c"} and edges["pkg.c"] == {"pkg.sub.a"}
    assert architecture.upward(edges)  # a -> b -> c -> a is a cycle


@pytest.mark.parametrize("room", ["runtime", "priors", "edit"])
def test_the_edit_side_never_reaches_the_training_side(room: str) -> None:
    for name, targets in RAW.items():
        if _in(name, room):
            assert not [t for t in targets if _in(t, "learn")], f"{name} imports the training side"
            path = PACKAGE.joinpath(*name.split(".")[1:]).with_suffix(".py")
            if not path.exists():
                path = PACKAGE.joinpath(*name.split(".")[1:], "__init__.py")
            assert not _third_party(path) & {"torch", "torchaudio", "sklearn"}, f"{name} imports torch"


def test_the_meter_never_runs_an_edit() -> None:
    for name, targets in RAW.items():
        if _in(name, "energy"):
            assert not [t for t in targets if _in(t, "edit") or _in(t, "learn")], name


def test_files_know_nothing_of_edits_models_or_training() -> None:
    for name, targets in RAW.items():
        if name.removeprefix("specblur.") in FILES_LAYER:
            rooms = ("edit", "runtime", "priors", "learn", "energy", "cli", "editor")
            assert not [t for t in targets if any(_in(t, room) for room in rooms)], (name, targets)


def test_priors_are_below_the_edits_and_the_runtime_is_below_both() -> None:
    for name, targets in RAW.items():
        if _in(name, "priors"):
            assert not [t for t in targets if _in(t, "edit")], name
        if _in(name, "runtime"):
            assert not [t for t in targets if _in(t, "edit")], name


def test_no_import_points_back_up() -> None:
    assert architecture.upward(EDGES) == []


def test_nothing_below_the_faces_imports_a_face() -> None:
    faces = ("specblur.cli", "specblur.editor")
    for name, targets in RAW.items():
        if not any(name == f or name.startswith(f + ".") for f in faces) and name not in (
            "specblur",
            "specblur.__main__",
        ):
            assert not [t for t in targets if any(t == f or t.startswith(f + ".") for f in faces)], name
