"""The mutation operators: each makes the intended small bug, only inside the target."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.core.source_marks import function_source
from bot.flow.targets import functions_in
from methods import mutations
from methods.mutations import Mutant, MutationError
from methods.ruff_fixes import function_span

SOURCE = '''\
"""A module with two functions; only `price` is the target."""


def price(total, count):
    """What an order costs."""
    log = []
    if total >= 100 and count != 0:
        total = total - 5
    log.append(total)
    return total * 2


def untouched(a, b):
    return a + b if a < b else a - b
'''


def _function_text(source: str, name: str) -> str:
    tree = ast.parse(source)
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    return ast.unparse(node)


def _by_operator(found: list[Mutant], operator: str) -> list[Mutant]:
    return [m for m in found if m.operator == operator]


def test_every_mutant_compiles_changes_price_and_leaves_the_rest_alone() -> None:
    found = mutations.mutants(SOURCE, "price")
    assert len(found) == len({m.source for m in found})  # no duplicates
    for mutant in found:
        compile(mutant.source, "mutant.py", "exec")
        assert _function_text(mutant.source, "price") != _function_text(SOURCE, "price")
        assert _function_text(mutant.source, "untouched") == _function_text(SOURCE, "untouched")


def test_comparison_flips_each_operator_to_its_boundary_twin() -> None:
    flips = _by_operator(mutations.mutants(SOURCE, "price"), "comparison-flip")
    assert [m.description for m in flips] == ["`>=` -> `>`", "`!=` -> `==`"]
    assert "if total > 100 and count != 0:" in flips[0].source
    assert "if total >= 100 and count == 0:" in flips[1].source
    assert {m.line for m in flips} == {7}


def test_arithmetic_swap_and_constant_shift() -> None:
    found = mutations.mutants(SOURCE, "price")
    swaps = _by_operator(found, "arithmetic-swap")
    assert "total = total + 5" in swaps[0].source
    assert "return total / 2" in swaps[1].source
    shifts = {m.description for m in _by_operator(found, "constant-shift")}
    assert shifts == {
        "`100` -> `101`",
        "`100` -> `99`",
        "`0` -> `1`",
        "`5` -> `6`",
        "`5` -> `4`",
        "`2` -> `3`",
        "`2` -> `1`",
    }


def test_condition_negation_return_none_and_statement_removal() -> None:
    found = mutations.mutants(SOURCE, "price")
    (negated,) = _by_operator(found, "condition-negation")
    assert "if not (total >= 100 and count != 0):" in negated.source
    (none,) = _by_operator(found, "return-none")
    assert "    return None\n" in none.source
    assert "return total * 2" not in none.source
    removed = _by_operator(found, "statement-removal")
    assert [m.description for m in removed] == [
        "`log = []` removed",
        "`total = total - 5` removed",
        "`log.append(total)` removed",
    ]
    assert '"""What an order costs."""' in removed[0].source  # the docstring is never removed


def test_augmented_assignment_and_conditional_expression() -> None:
    source = "def f(x):\n    x += 1\n    return 1 if x else 2\n"
    found = mutations.mutants(source, "f")
    assert "x -= 1" in _by_operator(found, "arithmetic-swap")[0].source
    negated = _by_operator(found, "condition-negation")
    assert "return 1 if not (x) else 2" in negated[0].source


def test_methods_are_found_by_qualified_name() -> None:
    source = "class Box:\n    def size(self):\n        return 3\n\n\ndef size():\n    return 4\n"
    found = mutations.mutants(source, "Box.size")
    assert {m.description for m in _by_operator(found, "constant-shift")} == {
        "`3` -> `4`",
        "`3` -> `2`",
    }
    assert all("return 4\n" in m.source for m in found)  # the module-level size() is untouched


FALLBACK = """\
try:
    from math import sumprod as _fsumprod
except ImportError:

    def _fsumprod(p, q):
        return sum(x * y for x, y in zip(p, q))


class Box:
    if True:

        def size(self):
            return 3
"""


def test_a_def_inside_a_try_or_if_block_is_found_by_every_reader() -> None:
    """more-itertools defines ``_fsumprod`` under ``except ImportError``; on Python 3.11 it is
    the one that runs, and the profile names it."""
    mutants = mutations.mutants(FALLBACK, "_fsumprod")
    assert "`*` -> `/`" in {m.description for m in mutants}
    assert {m.description for m in mutations.mutants(FALLBACK, "Box.size")} >= {"`3` -> `4`"}
    assert function_span(FALLBACK, "_fsumprod") == (5, 6)
    assert function_span(FALLBACK, "Box.size") == (12, 13)
    assert function_source(FALLBACK, "_fsumprod") == "".join(FALLBACK.splitlines(True)[4:6])
    assert functions_in(FALLBACK) == {"_fsumprod": 5, "Box.size": 12}


def test_limit_takes_an_even_spread_the_same_every_time() -> None:
    every = mutations.mutants(SOURCE, "price")
    some = mutations.mutants(SOURCE, "price", limit=4)
    assert len(some) == 4
    assert some == mutations.mutants(SOURCE, "price", limit=4)
    assert some[0] == every[0] and some[-1] != every[0]
    assert all(m in every for m in some)


def test_sentinel_raises_at_entry() -> None:
    guard = mutations.sentinel(SOURCE, "price")
    namespace: dict[str, object] = {}
    exec(compile(guard.source, "sentinel.py", "exec"), namespace)  # our own fixture code
    with pytest.raises(RuntimeError, match="sentinel"):
        namespace["price"](1, 1)  # type: ignore[operator]
    assert namespace["untouched"](1, 2) == 3  # type: ignore[operator]
    one_liner = mutations.sentinel("def f(): return 1\n", "f")
    assert "raise RuntimeError" in one_liner.source and "return 1" in one_liner.source


def test_unknown_function_and_bad_source_are_mutation_errors() -> None:
    with pytest.raises(MutationError, match="no definition of missing"):
        mutations.mutants(SOURCE, "missing")
    with pytest.raises(MutationError, match="does not parse"):
        mutations.mutants("def broken(:\n", "broken")


FETCHING = """\
import json


def load(path, seen):
    text = read_text(path)
    seen.append(len(text))
    return json.loads(text.strip())


def read_text(path):
    with open(path) as handle:
        return handle.read()
"""


def test_faults_are_injected_where_the_function_calls_out(tmp_path: Path) -> None:
    faults = _by_operator(mutations.mutants(FETCHING, "load"), "call-fault")
    assert [m.description for m in faults] == [
        "`read_text(...)` raises OSError",
        "`read_text(...)` times out (TimeoutError)",
        "`read_text(...)` comes back empty (None)",
        "`json.loads(...)` raises OSError",
        "`json.loads(...)` times out (TimeoutError)",
        "`json.loads(...)` comes back empty (None)",
    ]  # never len(), .append() or .strip(): values the function holds, not call-outs
    (tmp_path / "data.json").write_text("[1, 2]")
    for mutant, expected in zip(faults[:3], (OSError, TimeoutError, TypeError), strict=True):
        scope: dict[str, object] = {}
        exec(compile(mutant.source, "mutant.py", "exec"), scope)
        with pytest.raises(expected):
            scope["load"](str(tmp_path / "data.json"), [])  # type: ignore[operator]
