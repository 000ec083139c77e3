"""Ruff's curated fixes as candidates: real ruff runs, only the target's lines change, and an
unsafe fix that breaks a captured call is stopped by the gates."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.candidate import Target
from bot.core.request import Request
from methods.codemod_generator import rewrites
from methods.codemods import rewrites_for
from methods.ruff_fixes import COMBINED, function_span, keep_inside, ruff_rewrites
from tests.conftest import GateBench, close_bench, commit_files, make_request, open_bench
from validators import performance

SOURCE = textwrap.dedent(
    '''
    """Lookups."""

    import math


    def lookups(x, d, rows):
        found = x in [1, 2, 3, 4]
        total = 0
        for _, v in d.items():
            total += v
        return found, total, [r for r in rows], math.log(total + 1, 2)


    def untouched(x, d):
        return x in [1, 2, 3, 4], [k for k in d.keys()]


    class Table:
        @staticmethod
        def keys(d):
            return [k for k in d.keys()]
    '''
)


@pytest.fixture(scope="module")
def request_(tmp_path_factory: pytest.TempPathFactory) -> Request:
    root = tmp_path_factory.mktemp("ruff") / "repo"
    root.mkdir()
    commit_files(root, {"pkg/mod.py": SOURCE, "pyproject.toml": "[tool.ruff]\nignore = ['ALL']\n"})
    return make_request(root)


def test_each_rule_is_a_candidate_and_so_is_their_union(request_: Request) -> None:
    found = {r.rule: r for r in ruff_rewrites(request_, SOURCE, "lookups", "pkg/mod.py")}
    assert set(found) == {
        "literal-membership",
        "incorrect-dict-iterator",
        "unnecessary-comprehension",
        "redundant-log-base",
        COMBINED,
    }
    assert "x in {1, 2, 3, 4}" in found["literal-membership"].source
    assert "x in [1, 2, 3, 4]" not in found["literal-membership"].source.split("def untouched")[0]
    assert "for v in d.values():" in found["incorrect-dict-iterator"].source
    assert "list(rows)" in found["unnecessary-comprehension"].source
    assert "math.log2(total + 1)" in found["redundant-log-base"].source
    combined = found[COMBINED].source
    for piece in ("x in {1, 2, 3, 4}", "d.values()", "list(rows)", "math.log2(total + 1)"):
        assert piece in combined
    assert "PLR6201" in found[COMBINED].code and "PLR6201" in found[COMBINED].description
    assert "hash lookup" in found["literal-membership"].description
    for rewrite in found.values():  # the project's own config (ignore ALL) is not read
        assert rewrite.source.split("def untouched")[1] == SOURCE.split("def untouched")[1]


def test_methods_are_found_and_nothing_else_changes(request_: Request) -> None:
    found = {r.rule: r for r in ruff_rewrites(request_, SOURCE, "Table.keys", "pkg/mod.py")}
    # together they give list(d.keys()) again (SIM118 reads no call), so no union
    assert set(found) == {"unnecessary-comprehension", "in-dict-keys"}
    fixed = found["unnecessary-comprehension"].source
    assert fixed.replace("return list(d.keys())", "return [k for k in d.keys()]") == SOURCE
    assert ruff_rewrites(request_, SOURCE, "keys", "pkg/mod.py") == []
    assert ruff_rewrites(request_, SOURCE, "missing", "pkg/mod.py") == []
    assert ruff_rewrites(request_, "def broken(:\n", "broken", "pkg/mod.py") == []


def test_the_union_makes_the_fixes_that_one_fix_enables(request_: Request) -> None:
    source = "def first(d):\n    return [k for k, _ in d.items() if k]\n"
    found = {r.rule: r for r in ruff_rewrites(request_, source, "first", "pkg/mod.py")}
    assert set(found) == {"incorrect-dict-iterator", COMBINED}
    assert "for k in d.keys() if k" in found["incorrect-dict-iterator"].source
    assert "for k in d if k" in found[COMBINED].source  # SIM118, once PERF102 made keys()


def test_fixes_keep_to_the_oldest_python_the_project_supports(tmp_path: Path) -> None:
    source = "def ones(n):\n    return bin(n).count('1')\n"
    found = {}
    for requires in ("3.8", "3.10"):
        root = tmp_path / requires
        root.mkdir()
        pyproject = f'[project]\nname = "p"\nrequires-python = ">={requires}"\n'
        commit_files(root, {"pkg/mod.py": source, "pyproject.toml": pyproject})
        request = make_request(root)
        found[requires] = [r.rule for r in ruff_rewrites(request, source, "ones", "pkg/mod.py")]
    assert found == {"3.8": [], "3.10": ["bit-count"]}  # int.bit_count is new in 3.10


def test_a_fix_may_bring_its_import(request_: Request) -> None:
    source = "import math\n\n\ndef second(rows):\n    return sorted(rows, key=lambda r: r[1])\n"
    [rewrite] = ruff_rewrites(request_, source, "second", "pkg/mod.py")
    assert rewrite.rule == "reimplemented-operator"
    assert rewrite.source.startswith("import math\nimport operator\n")
    assert "key=operator.itemgetter(1)" in rewrite.source
    namespace: dict[str, object] = {}
    exec(compile(rewrite.source, "<fixed>", "exec"), namespace)  # our own test input
    second = namespace["second"]
    assert callable(second) and second([(1, 2), (0, 1)]) == [(0, 1), (1, 2)]


def test_a_plan_counts_ruffs_candidates_with_the_codemods(request_: Request) -> None:
    """``selfimprove plan`` weighs a target by the rewrites the offline generator offers:
    ``lookups`` has no codemod rewrite, only ruff's."""
    target = Target("pkg/mod.py", "pkg.mod", "lookups")
    offered = [rule for rule, _, _, _ in rewrites(request_, target, SOURCE)]
    expected = [r.rule for r in ruff_rewrites(request_, SOURCE, "lookups", "pkg/mod.py")]
    assert offered == expected and len(offered) == 5
    assert rewrites_for(SOURCE, "lookups") == []


def test_no_import_is_left_unused(request_: Request) -> None:
    """An import a dropped fix outside brought goes (tabulate's ``starmap``), and so does
    one whose last use a fix inside removed; an import unused already stays."""
    source = (
        "import math\nimport re\n\n\ndef inside(x, s):\n"
        "    return x in [1, 2, 3], re.sub('a', 'b', s)\n\n\n"
        "def outside(rows):\n    return sorted(rows, key=lambda r: r[1])\n"
    )
    found = {r.rule: r for r in ruff_rewrites(request_, source, "inside", "pkg/mod.py")}
    assert set(found) == {"literal-membership", "unnecessary-regular-expression", COMBINED}
    assert found["literal-membership"].source == source.replace("[1, 2, 3]", "{1, 2, 3}")
    for rewrite in (found["unnecessary-regular-expression"], found[COMBINED]):
        assert "s.replace('a', 'b')" in rewrite.source or 's.replace("a", "b")' in rewrite.source
        assert rewrite.source.startswith("import math\n\n\ndef inside")  # not re, nor operator
    assert "import operator" not in found[COMBINED].source


def test_spans_and_keeping_only_the_inside() -> None:
    assert function_span(SOURCE, "lookups") == (7, 12)
    assert function_span(SOURCE, "Table.keys") == (20, 22)
    old = "a = 1\ndef f():\n    return 1\n\nb = 2\n"
    new = "a = 10\ndef f():\n    return 2\n\nb = 20\nc = 3\n"
    assert keep_inside(old, new, (2, 3)) == "a = 1\ndef f():\n    return 2\n\nb = 2\n"
    old, new = old.replace("\n\n", "\n"), new.replace("\n\nb = 20\nc = 3", "\nb = 20")
    assert keep_inside(old, new, (2, 3)) == "a = 1\ndef f():\n    return 2\nb = 2\n"


MEMBER = '''"""Tags."""


def tag(word, extra):
    return word in ["a", "b", "c", extra]
'''
MEMBER_TESTS = """from pkg.tags import tag


def test_tag():
    for _ in range(3):
        assert tag("a", ["x"]) is True
        assert tag(["x"], ["x"]) is True
"""


@pytest.fixture(scope="module")
def member_bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GateBench]:
    root = tmp_path_factory.mktemp("member") / "repo"
    root.mkdir()
    files = {
        "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["src"]\n',
        "src/pkg/__init__.py": "",
        "src/pkg/tags.py": MEMBER,
        "tests/test_tags.py": MEMBER_TESTS,
    }
    commit_files(root, files)
    bench = open_bench(root, capture=(Target("src/pkg/tags.py", "pkg.tags", "tag"),))
    yield bench
    close_bench(bench)


def test_an_unhashable_element_stops_the_set_literal(member_bench: GateBench) -> None:
    """Ruff offers ``{..., extra}`` (an unsafe fix); a captured call with a list element
    raises TypeError on it, so the performance gate's replay rejects the candidate."""
    request = member_bench.request
    [rewrite] = ruff_rewrites(request, MEMBER, "tag", "src/pkg/tags.py")
    assert 'word in {"a", "b", "c", extra}' in rewrite.source
    target = Target("src/pkg/tags.py", "pkg.tags", "tag")
    verdict = performance.check(member_bench.context({"src/pkg/tags.py": rewrite.source}, target))
    assert not verdict.passed
    assert "behaviour differs on captured call" in verdict.reason
    assert "TypeError" in verdict.reason and "unhashable" in verdict.reason
    assert Path(member_bench.baseline.root / "src/pkg/tags.py").read_text() == MEMBER
