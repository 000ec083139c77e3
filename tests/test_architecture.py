"""The tree reads in flow order: imports point one way, down the stages, with no cycle.

Stages, highest first: the entry points (cli, action, config), shards, flow, the delivery
stages (bundle, github), their parts (signing, ipfs, report), and core. ``methods`` and
``validators`` may import only ``bot.core`` (and themselves); the one exception is the
method registry, which anything above core may read for the list of names.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "methods", "validators")
ENTRY = ("bot", "bot.cli", "bot.action", "bot.action_inputs", "bot.config", "bot.llm_config")
RANKS = {
    "bot.shards": 5,
    "bot.flow": 4,
    "bot.bundle": 3,
    "bot.github": 3,
    "bot.signing": 2,
    "bot.ipfs": 2,
    "bot.report": 2,
    "methods": 1,
    "validators": 1,
    "bot.core": 0,
}
_TYPE_CHECKING = ("TYPE_CHECKING", "typing.TYPE_CHECKING")
HEAVY = ("scipy", "numpy", "githubkit", "openai", "anthropic", "sigstore")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _ours(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def _imports(path: Path, module: str) -> set[str]:
    """Every module of ours that ``path`` imports, at module level or inside a function."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) in _TYPE_CHECKING
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:  # annotations only: no arrow at run time
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if _ours(name)}


def _graph() -> dict[str, set[str]]:
    modules = {
        _module_name(p): p
        for package in PACKAGES
        for p in (ROOT / package).rglob("*.py")
        if "harness" not in p.parts  # scripts run in the target's interpreter, not imported
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {m for m in _imports(path, name) if m in modules and m != name}
    return graph


def _rank(module: str) -> int:
    if module in ENTRY:
        return 9
    for prefix, rank in sorted(RANKS.items(), key=lambda item: -len(item[0])):
        if module == prefix or module.startswith(prefix + "."):
            return rank
    raise AssertionError(f"{module} belongs to no stage: add it to tests/test_architecture.py")


GRAPH = _graph()


def test_every_module_has_a_stage() -> None:
    for module in GRAPH:
        _rank(module)


def test_methods_and_validators_use_only_the_core() -> None:
    wrong = [
        f"{module} imports {imported}"
        for module, imports in GRAPH.items()
        if module.split(".")[0] in ("methods", "validators")
        for imported in imports
        if not imported.startswith(("bot.core", module.split(".")[0]))
    ]
    assert wrong == []


def test_no_import_runs_up_a_stage() -> None:
    up = [
        f"{module} (stage {_rank(module)}) imports {imported} (stage {_rank(imported)})"
        for module, imports in GRAPH.items()
        for imported in imports
        if _rank(imported) > _rank(module) and imported != "methods.registry"
    ]
    assert up == []


def test_no_import_cycle() -> None:
    """Modules (packages' ``__init__`` aside) form no cycle, lazy imports included."""
    graph = {
        m: {i for i in imports if i in GRAPH and not _is_package(i)} for m, imports in GRAPH.items()
    }
    seen: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if seen.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in seen:
                visit(nxt, [*path, nxt])
        seen[node] = 2

    for node in sorted(graph):
        if node not in seen:
            visit(node, [node])
    assert cycles == []


def _is_package(module: str) -> bool:
    return (ROOT / Path(*module.split(".")) / "__init__.py").is_file()


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The scanner is not blind: a core module importing the flow is reported."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from bot.flow.run import run\n")
    imported = _imports(probe, "bot.core.probe")
    assert "bot.flow.run" in imported
    assert _rank("bot.flow.run") > _rank("bot.core.probe")


@pytest.mark.parametrize(
    "statement", ["import bot.cli", "from bot.cli import main; main(['--help'])"]
)
def test_startup_leaves_heavy_libraries_unimported(statement: str) -> None:
    code = (
        "import sys\n"
        f"try:\n    {statement}\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "HEAVY=", done.stdout
