"""Gates 1-4 against a real repository, real worktrees and real ruff, bandit and mypy runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.core import sandbox
from bot.core.candidate import Candidate, Target
from bot.core.diffs import make_diff, new_file_diff
from bot.core.path_policy import TEST_WRITERS
from bot.core.request import Limits
from methods import chaos
from tests.conftest import GateBench
from validators import security, style, syntax, types
from validators.context import GateContext
from validators.findings import Finding, new_findings
from validators.paths import project_relative

PYPROJECT = """\
[project]
name = "demo"
version = "0.1.0"

[tool.ruff]
line-length = 100
target-version = "py311"

[tool.ruff.lint]
select = ["E", "F", "I"]

[tool.ruff.lint.per-file-ignores]
# the project silences ruff's security rules here; bandit still looks
"src/pkg/shell.py" = ["S"]

[tool.mypy]
ignore_missing_imports = true
"""

MOD = '''\
"""Arithmetic helpers."""


def add(a: int, b: int) -> int:
    return a + b


def total(values: list[int]) -> int:
    result = 0
    for value in values:
        result = add(result, value)
    return result
'''

APP = '''\
"""Uses the helpers, so a changed signature in mod.py breaks this file."""

from pkg.mod import add


def three() -> int:
    return add(1, 2)
'''

# Already has a lint finding (F401), a format finding, a security finding (eval) and a type
# error on the base: the baseline rule must let a candidate touch it without fixing them.
LEGACY = """\
import os


def parse(text: str) -> int:
    return eval(text)


def broken() -> int:
    return "not an int"


LIMITS = [1,2,3]
"""

LEGACY_TOUCHED = LEGACY.replace(
    "def parse(", "def double(value: int) -> int:\n    return value * 2\n\n\ndef parse("
)

SHELL = '''\
"""Shell helpers."""


def quote(text: str) -> str:
    return "'" + text + "'"
'''

FILES = {
    "README.md": "outside the project\n",
    "proj/pyproject.toml": PYPROJECT,
    "proj/src/pkg/__init__.py": "",
    "proj/src/pkg/mod.py": MOD,
    "proj/src/pkg/app.py": APP,
    "proj/src/pkg/legacy.py": LEGACY,
    "proj/src/pkg/shell.py": SHELL,
    "proj/tests/test_mod.py": "def test_nothing() -> None:\n    pass\n",
}

GOOD_MOD = MOD.replace(
    "    result = 0\n    for value in values:\n        result = add(result, value)\n"
    "    return result\n",
    "    return sum(values)\n",
)

Bench = Callable[..., GateBench]


@pytest.fixture
def bench(gate_bench: Bench) -> GateBench:
    return gate_bench(FILES, project="proj")


def hand_made(bench: GateBench, diff: str, files: tuple[str, ...]) -> GateContext:
    """A candidate built by hand (no worktree): for diffs git itself would refuse to apply."""
    target = Target(file="src/pkg/mod.py", module="pkg.mod", qualname="add")
    candidate = Candidate(target, diff, files, "test-driven", "test", "hand", "hand-made")
    return GateContext(bench.request, candidate, bench.baseline, bench.baseline.root)


@pytest.fixture
def tool_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, Path]]]:
    """Every sandboxed tool run as (kind, cwd); the real subprocess still runs."""
    calls: list[tuple[str, Path]] = []
    real_run = sandbox.run

    def spy(argv: Any, cwd: Path, **kwargs: Any) -> sandbox.Completed:
        calls.append((kwargs["kind"], Path(cwd)))
        return real_run(argv, cwd, **kwargs)

    monkeypatch.setattr(sandbox, "run", spy)
    yield calls


# --- a good candidate and the baseline rule -------------------------------------------------


def test_good_candidate_passes_all_four_gates(bench: GateBench) -> None:
    ctx = bench.context({"src/pkg/mod.py": GOOD_MOD})
    for gate in (syntax, style, security, types):
        verdict = gate.check(ctx)
        assert verdict.passed, (gate.NAME, verdict.reason)


def test_preexisting_findings_do_not_block_a_candidate_that_adds_none(bench: GateBench) -> None:
    ctx = bench.context({"src/pkg/legacy.py": LEGACY_TOUCHED})
    for gate in (style, security, types):
        verdict = gate.check(ctx)
        assert verdict.passed, (gate.NAME, verdict.reason)

    # not vacuous: the base really had these findings, and the candidate still has them
    def base(*key: str) -> list[tuple[str, str]]:
        found = bench.baseline.cache[key]
        assert isinstance(found, tuple)
        return [(f.file, f.rule) for f in found if isinstance(f, Finding)]

    legacy = "src/pkg/legacy.py"
    assert base("style", "ruff-check", legacy) == [(legacy, "F401")]
    assert base("style", "ruff-format", legacy) == [(legacy, "format")]
    assert base("security", "ruff-S", legacy) == [(legacy, "S307")]
    assert base("security", "bandit", legacy) == [(legacy, "B307")]
    assert base("types", "mypy", "src/pkg") == [(legacy, "return-value")]


def test_base_results_are_cached_per_run(bench: GateBench, tool_calls: list[Any]) -> None:
    first = bench.context({"src/pkg/mod.py": GOOD_MOD})
    for gate in (style, security, types):
        assert gate.check(first).passed
    base_runs = [kind for kind, cwd in tool_calls if cwd == first.base_project]
    assert sorted(set(base_runs)) == ["bandit", "mypy", "ruff"]

    tool_calls.clear()
    second = bench.context({"src/pkg/mod.py": GOOD_MOD.replace("Arithmetic", "Integer")})
    for gate in (style, security, types):
        assert gate.check(second).passed
    assert [kind for kind, cwd in tool_calls if cwd == second.base_project] == []
    assert {kind for kind, cwd in tool_calls if cwd == second.candidate_project} == {
        "ruff",
        "bandit",
        "mypy",
    }


# --- gate 1: syntax -------------------------------------------------------------------------


def test_syntax_rejects_a_file_that_does_not_parse(bench: GateBench) -> None:
    ctx = bench.context(
        {"src/pkg/mod.py": MOD.replace("-> int:\n    return a", "-> int\n    return a")}
    )
    verdict = syntax.check(ctx)
    assert not verdict.passed
    assert verdict.reason.startswith("src/pkg/mod.py:4: SyntaxError: ")
    assert verdict.details["errors"][0]["file"] == "src/pkg/mod.py"


def test_syntax_fails_when_the_target_interpreter_cannot_run(gate_bench: Bench) -> None:
    bench = gate_bench(FILES, project="proj", interpreter="/nonexistent/python3")
    verdict = syntax.check(bench.context({"src/pkg/mod.py": GOOD_MOD}))
    assert not verdict.passed
    assert "/nonexistent/python3" in verdict.reason


# --- gate 2: style --------------------------------------------------------------------------


def test_style_rejects_a_new_lint_finding(bench: GateBench) -> None:
    with_import = MOD.replace('helpers."""\n', 'helpers."""\n\nimport os\n')
    ctx = bench.context({"src/pkg/mod.py": with_import})
    verdict = style.check(ctx)
    assert not verdict.passed
    assert verdict.reason == (
        "1 new style finding, first: src/pkg/mod.py:3 F401 `os` imported but unused"
    )


def test_style_rejects_a_file_that_is_no_longer_formatted(bench: GateBench) -> None:
    ctx = bench.context({"src/pkg/mod.py": MOD.replace("return a + b", "return (a+b)")})
    verdict = style.check(ctx)
    assert not verdict.passed
    assert "src/pkg/mod.py format would be reformatted by ruff format" in verdict.reason


def test_style_fails_when_ruff_cannot_read_the_project_config(gate_bench: Bench) -> None:
    broken = {
        **FILES,
        "proj/pyproject.toml": PYPROJECT.replace("line-length = 100", 'line-length = "x"'),
    }
    bench = gate_bench(broken, project="proj")
    verdict = style.check(bench.context({"src/pkg/mod.py": GOOD_MOD}))
    assert not verdict.passed
    assert verdict.reason.startswith("ruff exited with code 2")
    assert verdict.reason.endswith("(on the base)")


def test_a_tool_timeout_fails_the_gate(gate_bench: Bench) -> None:
    bench = gate_bench(FILES, project="proj", limits=Limits(tool_timeout=0.001))
    ctx = bench.context({"src/pkg/mod.py": GOOD_MOD})
    for gate in (style, security, types):
        verdict = gate.check(ctx)
        assert not verdict.passed
        assert "timed out after 0.001 s" in verdict.reason


# --- gate 3: security -----------------------------------------------------------------------


def test_security_rejects_shell_true_found_by_ruff_and_bandit(bench: GateBench) -> None:
    code = MOD + "\n\ndef run(command: str) -> None:\n    subprocess.run(command, shell=True)\n"
    ctx = bench.context({"src/pkg/mod.py": "import subprocess\n\n" + code})
    verdict = security.check(ctx)
    assert not verdict.passed
    assert verdict.reason.startswith("3 new security findings, first: src/pkg/mod.py:")
    assert [f.split()[1] for f in verdict.details["ruff"]] == ["S602"]
    assert [f.split()[1] for f in verdict.details["bandit"]] == ["B404", "B602"]


def test_security_rejects_eval(bench: GateBench) -> None:
    ctx = bench.context({"src/pkg/mod.py": MOD.replace("return a + b", "return eval(f'{a}+{b}')")})
    verdict = security.check(ctx)
    assert not verdict.passed
    assert verdict.reason.startswith("2 new security findings, first: src/pkg/mod.py:5 S307")
    assert [f.split()[1] for f in verdict.details["bandit"]] == ["B307"]


def test_bandit_alone_catches_what_the_project_silenced_in_ruff(bench: GateBench) -> None:
    new_shell = (
        "import subprocess\n\n"
        + SHELL
        + ("\n\ndef run(command: str) -> None:\n    subprocess.run(command, shell=True)\n")
    )
    verdict = security.check(bench.context({"src/pkg/shell.py": new_shell}))
    assert not verdict.passed
    assert verdict.details["ruff"] == []
    assert verdict.reason.startswith("2 new security findings, first: src/pkg/shell.py:1 B404")


def test_bandit_reads_the_projects_own_config(gate_bench: Bench) -> None:
    config = PYPROJECT + '\n[tool.bandit]\nskips = ["B404"]\n'
    bench = gate_bench({**FILES, "proj/pyproject.toml": config}, project="proj")
    ctx = bench.context({"src/pkg/shell.py": "import subprocess\n\n" + SHELL})
    verdict = security.check(ctx)
    assert verdict.passed, verdict.reason


def test_asserts_in_new_tests_are_not_security_findings(gate_bench: Bench) -> None:
    bench = gate_bench(FILES, project="proj")
    test = "from pkg.mod import add\n\n\ndef test_add() -> None:\n    assert add(1, 2) == 3\n"
    target = Target(file="src/pkg/mod.py", module="pkg.mod", qualname="add")
    ctx = bench.context({"tests/test_chaos_add.py": test}, target=target, method="chaos")
    verdict = security.check(ctx)
    assert verdict.passed, verdict.reason


# --- gate 3's path allowlist ---------------------------------------------------------------

NEW_LINK = (
    "diff --git a/proj/src/pkg/link.py b/proj/src/pkg/link.py\nnew file mode 120000\n"
    "--- /dev/null\n+++ b/proj/src/pkg/link.py\n@@ -0,0 +1 @@\n+/etc/passwd\n"
    "\\ No newline at end of file\n"
)
BINARY = (
    "diff --git a/proj/src/pkg/blob.bin b/proj/src/pkg/blob.bin\nnew file mode 100644\n"
    "index 0000000..e69de29\nGIT binary patch\nliteral 3\nKcmZ>Y%m4rY2mk>9\n\n"
)
MODE = "diff --git a/proj/src/pkg/mod.py b/proj/src/pkg/mod.py\nold mode 100644\nnew mode 100755\n"
NEW_EXECUTABLE = (
    "diff --git a/proj/src/pkg/run.py b/proj/src/pkg/run.py\nnew file mode 100755\n"
    "--- /dev/null\n+++ b/proj/src/pkg/run.py\n@@ -0,0 +1 @@\n+x = 1\n"
)
RENAME = (
    "diff --git a/proj/src/pkg/mod.py b/proj/src/pkg/mod2.py\nsimilarity index 100%\n"
    "rename from proj/src/pkg/mod.py\nrename to proj/src/pkg/mod2.py\n"
)
DELETE = (
    "diff --git a/proj/src/pkg/mod.py b/proj/src/pkg/mod.py\ndeleted file mode 100644\n"
    "--- a/proj/src/pkg/mod.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x = 1\n"
)


def edit(path: str) -> str:
    return make_diff(path, "old = 1\n", "new = 1\n")


def added(path: str) -> str:
    return new_file_diff(path, "import os\n")


REFUSALS = [
    (edit("README.md"), "test-driven", "README.md is outside the project folder proj/"),
    (edit("proj/../x.py"), "test-driven", "proj/../x.py is outside the project folder proj/"),
    (edit("/etc/passwd"), "test-driven", "/etc/passwd is outside the project folder proj/"),
    (edit('proj/"q".py'), "test-driven", 'proj/"q".py is outside the project folder proj/'),
    (
        edit(".github/workflows/ci.yml"),
        "test-driven",
        ".github/workflows/ci.yml is a CI workflow or action file",
    ),
    (
        edit("proj/.github/actions/a/action.yml"),
        "test-driven",
        "proj/.github/actions/a/action.yml is a CI workflow or action file",
    ),
    (
        edit("proj/.git/hooks/pre-commit"),
        "test-driven",
        "proj/.git/hooks/pre-commit is inside git's own folder",
    ),
    (
        added("proj/tests/conftest.py"),
        "chaos",
        "proj/tests/conftest.py may not change: pytest runs it on collection",
    ),
    (added("proj/setup.py"), "test-driven", "proj/setup.py may not change: the packaging"),
    (edit("proj/setup.cfg"), "test-driven", "proj/setup.cfg may not change: it configures"),
    (edit("proj/pyproject.toml"), "test-driven", "proj/pyproject.toml may not change: it"),
    (added("proj/tox.ini"), "test-driven", "proj/tox.ini may not change: tox runs"),
    (added("proj/noxfile.py"), "test-driven", "proj/noxfile.py may not change: nox runs it"),
    (
        added("proj/src/sitecustomize.py"),
        "test-driven",
        "proj/src/sitecustomize.py may not change: the interpreter runs it at start-up",
    ),
    (
        added("proj/src/evil.pth"),
        "test-driven",
        "proj/src/evil.pth may not change: the interpreter runs the imports in a .pth file",
    ),
    (added("proj/.gitattributes"), "test-driven", "proj/.gitattributes may not change: it"),
    (added("proj/.gitmodules"), "test-driven", "proj/.gitmodules may not change: it points"),
    (
        added("proj/.pre-commit-config.yaml"),
        "test-driven",
        "proj/.pre-commit-config.yaml may not change: pre-commit runs the hooks in it",
    ),
    (MODE, "test-driven", "proj/src/pkg/mod.py changes mode (100644 -> 100755)"),
    (NEW_EXECUTABLE, "test-driven", "proj/src/pkg/run.py would be created with mode 100755"),
    (NEW_LINK, "test-driven", "proj/src/pkg/link.py is a symbolic link"),
    (BINARY, "test-driven", "proj/src/pkg/blob.bin is a binary file"),
    (
        edit("proj/src/pkg/app.py"),
        "test-driven",
        "proj/src/pkg/app.py is not a target of the candidate (targets: src/pkg/mod.py)",
    ),
    (
        edit("proj/tests/test_mod.py"),
        "chaos",
        "proj/tests/test_mod.py is an existing test: a candidate may not edit or delete tests",
    ),
    (
        added("proj/tests/test_new.py"),
        "test-driven",
        "proj/tests/test_new.py is a new test, and only a method that writes tests may add one",
    ),
    (
        added("proj/src/pkg/test_new.py"),
        "chaos",
        "proj/src/pkg/test_new.py is not a test module (test_*.py) in the test folder tests/",
    ),
    (
        added("proj/tests/helpers.py"),
        "chaos",
        "proj/tests/helpers.py is not a test module (test_*.py) in the test folder tests/",
    ),
    (RENAME, "test-driven", "proj/src/pkg/mod.py is renamed to proj/src/pkg/mod2.py"),
    (DELETE, "test-driven", "the diff deletes proj/src/pkg/mod.py, its target"),
]


@pytest.mark.parametrize("policy", ["on", "off"])
@pytest.mark.parametrize(("diff", "method", "words"), REFUSALS)
def test_security_refuses_what_the_allowlist_does_not_name(
    bench: GateBench,
    monkeypatch: pytest.MonkeyPatch,
    policy: str,
    diff: str,
    method: str,
    words: str,
) -> None:
    """With the path policy off, every one of these reaches the later gates unremarked."""
    if policy == "off":
        monkeypatch.setattr(security, "candidate_breach", lambda *args: None)
    target = Target(file="src/pkg/mod.py", module="pkg.mod", qualname="add")
    candidate = Candidate(target, diff, ("proj/src/pkg/mod.py",), method, "test", "hand", "x")
    ctx = GateContext(bench.request, candidate, bench.baseline, bench.baseline.root)
    verdict = security.check(ctx)
    if policy == "off":
        assert verdict.passed, verdict.reason
        return
    assert not verdict.passed
    assert verdict.reason.startswith(f"diff policy: {words}"), verdict.reason


def test_security_refuses_a_diff_it_cannot_parse(bench: GateBench) -> None:
    verdict = security.check(hand_made(bench, "@@ -1 +1 @@\n-a\n", ("proj/src/pkg/mod.py",)))
    assert verdict.reason.startswith("diff policy: the diff cannot be parsed (Unexpected hunk")


def test_security_reads_paths_from_the_diff_not_only_the_file_list(bench: GateBench) -> None:
    diff = make_diff("proj/src/pkg/mod.py", MOD, GOOD_MOD) + make_diff("setup.py", "a\n", "b\n")
    verdict = security.check(hand_made(bench, diff, ("proj/src/pkg/mod.py",)))
    assert verdict.reason == "diff policy: setup.py is outside the project folder proj/"


def test_a_test_writing_method_adds_a_test_in_the_test_folder(gate_bench: Bench) -> None:
    bench = gate_bench(FILES, project="proj")
    test = "from pkg.mod import add\n\n\ndef test_add() -> None:\n    assert add(1, 2) == 3\n"
    target = Target(file="src/pkg/mod.py", module="pkg.mod", qualname="add")
    assert chaos.NAME in TEST_WRITERS  # the policy names the method that writes tests
    for method, allowed in (("chaos", True), ("chaos+test-driven", True), ("test-driven", False)):
        ctx = bench.context({"tests/test_more.py": test}, target=target, method=method)
        assert (security.policy_breach(ctx) is None) is allowed, method


def test_a_merged_candidate_may_edit_every_constituent_target(bench: GateBench) -> None:
    diff = make_diff("proj/src/pkg/mod.py", MOD, GOOD_MOD) + make_diff(
        "proj/src/pkg/app.py", APP, APP + "\n"
    )
    files = ("proj/src/pkg/mod.py", "proj/src/pkg/app.py")
    assert security.policy_breach(hand_made(bench, diff, files)) is None
    alone = security.policy_breach(hand_made(bench, diff, files[:1]))
    assert alone == "proj/src/pkg/app.py is not a target of the candidate (targets: src/pkg/mod.py)"


def test_security_rejects_a_diff_over_the_size_limit(bench: GateBench) -> None:
    big = MOD + "".join(f"VALUE_{i} = {i}\n" for i in range(250))
    verdict = security.check(bench.context({"src/pkg/mod.py": big}))
    assert verdict.reason == "diff policy: 250 changed lines exceed the limit of 200"


def test_the_whole_repository_is_the_project_when_project_is_dot(bench: GateBench) -> None:
    request = replace(bench.request, project=".")
    diff = make_diff("proj/src/pkg/mod.py", MOD, GOOD_MOD)
    target = Target(file="proj/src/pkg/mod.py", module="pkg.mod", qualname="add")
    candidate = Candidate(target, diff, ("proj/src/pkg/mod.py",), "test-driven", "t", "h", "x")
    ctx = GateContext(request, candidate, bench.baseline, bench.baseline.root)
    assert security.policy_breach(ctx) is None
    readme = replace(candidate, diff=make_diff("README.md", "a\n", "b\n"))
    assert security.policy_breach(replace(ctx, candidate=readme)) == (
        "README.md is not a target of the candidate (targets: proj/src/pkg/mod.py)"
    )


# --- gate 4: types --------------------------------------------------------------------------


def test_types_rejects_a_new_error(bench: GateBench) -> None:
    ctx = bench.context({"src/pkg/mod.py": MOD.replace("return a + b", "return str(a + b)")})
    verdict = types.check(ctx)
    assert not verdict.passed
    assert verdict.reason == (
        "1 new mypy finding, first: src/pkg/mod.py:5 return-value Incompatible return value type"
        ' (got "str", expected "int")'
    )
    assert verdict.details["paths"] == ["src/pkg"]


def test_types_checks_the_callers_of_a_changed_function(bench: GateBench) -> None:
    ctx = bench.context({"src/pkg/mod.py": MOD.replace("b: int)", "b: int, c: int)")})
    verdict = types.check(ctx)
    assert not verdict.passed
    assert "src/pkg/app.py:7 call-arg Missing positional argument" in verdict.reason


def test_a_new_test_file_is_not_blamed_for_old_errors_in_what_it_imports(
    bench: GateBench,
) -> None:
    """mypy follows the new test's import into legacy.py, which the base run (over no
    path: the file is new) never checked; its old error stays the base's."""
    test = "from pkg.legacy import parse\n\n\ndef test_parse() -> None:\n"
    test += "    assert parse('1') == 1\n"
    bench.baseline.import_roots = ("src",)  # where the suite imported pkg from
    verdict = types.check(bench.context({"tests/test_legacy.py": test}))
    assert verdict.passed, verdict.reason
    broken = test + "\n\ndef test_wrong() -> None:\n    parse(1)\n"
    verdict = types.check(bench.context({"tests/test_legacy.py": broken}))
    assert not verdict.passed and "tests/test_legacy.py:9 arg-type" in verdict.reason, verdict


def test_types_fails_when_mypy_cannot_run(gate_bench: Bench) -> None:
    bench = gate_bench(FILES, project="proj", type_paths=("no_such_package",))
    verdict = types.check(bench.context({"src/pkg/mod.py": GOOD_MOD}))
    assert not verdict.passed
    assert verdict.reason.startswith("mypy exited with code 2: no_such_package: error:")
    assert verdict.reason.endswith("(on the candidate)")


def test_type_paths_are_the_top_level_packages(tmp_path: Path) -> None:
    (tmp_path / "src/pkg/sub").mkdir(parents=True)
    (tmp_path / "src/pkg/__init__.py").write_text("")
    (tmp_path / "src/pkg/sub/__init__.py").write_text("")
    assert types.top_level(tmp_path, "src/pkg/sub/mod.py") == "src/pkg"
    assert types.top_level(tmp_path, "script.py") == "script.py"
    assert types.top_level(tmp_path, "tools/loose.py") == "tools/loose.py"


# --- the shared pieces ----------------------------------------------------------------------


def test_new_findings_is_a_multiset_difference_without_line_numbers() -> None:
    base = [
        Finding("a.py", 3, "F811", "Redefinition of `g` from line 1"),
        Finding("a.py", 9, "X", "m"),
    ]
    moved = [
        Finding("a.py", 5, "F811", "Redefinition of `g` from line 2"),
        Finding("a.py", 2, "X", "m"),
    ]
    assert new_findings(base, moved) == []
    twice = [*moved, Finding("a.py", 7, "X", "m")]
    assert new_findings(base, twice) == [Finding("a.py", 7, "X", "m")]


@pytest.mark.parametrize(
    ("project", "path", "expected"),
    [
        ("proj", "proj/src/a.py", "src/a.py"),
        ("proj", "proj2/a.py", None),
        ("proj", "proj/../proj/a.py", None),
        ("proj", "proj", None),
        (".", "src/a.py", "src/a.py"),
        (".", "../a.py", None),
        (".", "/a.py", None),
    ],
)
def test_project_relative(project: str, path: str, expected: str | None) -> None:
    assert project_relative(project, path) == expected
