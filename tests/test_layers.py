"""The package's layout tells the pipeline's story: every import goes down the stages,
never up, and no module imports itself back through another.

The allowed order, lowest first. A module may import its own room and any room to its
left; a room to its right is an upward import and fails the test.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pipeline

ORDER = ["errors", "models", "config", "store", "acquire", "content", "story", "deliver",
         "refresh", "polling", "jobs", "backfill", "daemon", "cli"]
ROOT = Path(pipeline.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}


def _imports(module: str, path: Path) -> set[str]:
    """Every pipeline module ``module`` imports, at the top or inside a function.
    ``from pipeline.x import y`` counts as importing ``pipeline.x.y`` when that is a module."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("pipeline"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            if not base.startswith("pipeline"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    found.discard(module)
    return {m for m in found if m in MODULES}


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_module_belongs_to_a_room_in_the_order() -> None:
    rooms = {_room(m) for m in MODULES} - {None, "warehouse"}
    assert rooms <= set(ORDER), f"rooms missing from ORDER: {sorted(rooms - set(ORDER))}"


def test_no_room_imports_a_later_stage() -> None:
    upward = []
    for module, targets in GRAPH.items():
        here = _room(module)
        if here is None:
            continue
        for target in targets:
            there = _room(target)
            if there is not None and ORDER.index(there) > ORDER.index(here):
                upward.append(f"{module} imports {target} ({there} comes after {here})")
    assert not upward, "\n".join(upward)


def test_no_import_cycle_between_modules() -> None:
    cycles = []
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the stack, 2 done
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(GRAPH[m]):
            if _is_package_of(t, m):
                continue  # a module's own package is loaded before it, not by it
            if state[t] == 1:
                cycles.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif state[t] == 0:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if state[m] == 0:
            visit(m)
    assert not cycles, "\n".join(cycles)


def _is_package_of(package: str, module: str) -> bool:
    return module.startswith(package + ".")


def test_the_cycle_check_sees_a_cycle() -> None:
    """The walker itself: a planted two-module circle is reported."""
    saved = {k: set(v) for k, v in GRAPH.items()}
    try:
        GRAPH["pipeline.models"].add("pipeline.errors")
        GRAPH["pipeline.errors"].add("pipeline.models")
        try:
            test_no_import_cycle_between_modules()
        except AssertionError as exc:
            assert "pipeline.errors -> pipeline.models -> pipeline.errors" in str(exc)
        else:
            raise AssertionError("a planted cycle went unreported")
    finally:
        GRAPH.clear()
        GRAPH.update(saved)


def test_the_command_line_imports_cleanly_in_a_fresh_interpreter() -> None:
    out = subprocess.run([sys.executable, "-c", "import pipeline.cli, pipeline.daemon, pipeline.jobs"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_every_stage_package_says_what_it_takes_and_gives() -> None:
    for room in ("acquire", "content", "story", "deliver", "config"):
        text = ast.get_docstring(ast.parse(MODULES[f"pipeline.{room}"].read_text(encoding="utf-8"))) or ""
        for part in ("Takes in", "Gives out", "Imports"):
            assert part in text, f"pipeline/{room}/__init__.py does not say what it {part.lower()}"
