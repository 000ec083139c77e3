"""The chaos method, end to end on tiny real repositories, and the pieces it relies on.

The main case: a shop whose suite checks discounts only far from the threshold (one test
calls ``discount(100)`` but asserts nothing useful), so mutants at the boundary survive.
Chaos must turn them into tests that pass on the base and fail on the mutant, and the
candidate must pass all seven gates. We check the shipped patch ourselves afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import git
import pytest

from bot.core.baseline import Baseline
from bot.core.candidate import Target
from bot.core.diffs import new_file_diff, reverse_diff
from methods import mutations
from methods.mutant_inputs import (
    DIFFERS,
    Disagreement,
    Observed,
    Outcome,
    disagreement,
    observe,
    unpinned,
)
from methods.regression_tests import (
    Case,
    new_test_path,
    render_file,
    tidy,
    where_tests_live,
)
from tests.conftest import GateBench, make_request, run_cli
from tests.methods.support import run_pytest
from validators import performance

SHOP = '''\
"""A tiny shop."""


def discount(total):
    """Percent off for an order of ``total``."""
    if total >= 100:
        return 10
    return 0
'''

LOOSE_TESTS = """\
from shop import discount


def test_big_order_gets_ten_percent():
    assert discount(150) == 10


def test_small_order_gets_nothing():
    assert discount(20) == 0


def test_threshold_order_gets_some_discount():
    assert discount(100) >= 0
"""

SWALLOWING_TESTS = """\
from shop import discount


def test_discount_runs():
    try:
        discount(150)
    except Exception:
        pass
"""


def _chaos(
    repo: Path, tmp_path: Path, *more: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``selfimprove run --dry-run REPO --method chaos --json``, and what it printed."""
    out = str(tmp_path / "out")
    done = run_cli(
        "run", "--dry-run", str(repo), "--method", "chaos", *more, "--json", "--out", out,
        cwd=tmp_path,
    )  # fmt: skip
    return done, (json.loads(done.stdout) if done.returncode == 0 else {})


def test_chaos_turns_surviving_boundary_mutants_into_killing_tests(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo({"shop.py": SHOP, "tests/test_shop.py": LOOSE_TESTS})
    done, report = _chaos(repo, tmp_path, "--target", "shop.py:discount")
    assert done.returncode == 0, done.stderr
    (candidate,) = report["candidates"]
    assert candidate["method"] == "chaos" and candidate["accepted"], candidate
    assert [g["gate"] for g in candidate["gates"]][-1] == "performance"
    assert "not applicable" in candidate["gates"][-1]["reason"]
    # condition negation, both return-none and the three result constants die at once; the
    # `>=` flip and 100 -> 101 (seen at 100) and 100 -> 99 (seen at 99, derived) survive.
    provenance = candidate["provenance"]
    assert provenance["mutation_score_before"] == "6/9"
    assert provenance["mutation_score_after"] == "9/9"
    assert any("mutation score 6/9 -> 9/9" in note for note in report["notes"])

    (accepted,) = report["accepted"]
    patch = Path(accepted["patch"])
    assert "tests/test_selfimprove_shop_discount.py" in patch.read_text()
    assert "Subject: [PATCH] test(shop): discount via regression-tests" in patch.read_text()
    assert "nothing to time" in patch.read_text() and "x faster" not in patch.read_text()
    # Our own check of what ships: the patch applies, its tests pass on the base ...
    git.Repo(repo).git.apply(str(patch))
    new_test = "tests/test_selfimprove_shop_discount.py"
    on_base = run_pytest(repo, new_test)
    assert on_base.returncode == 0, on_base.stdout
    assert "2 passed" in on_base.stdout
    # ... and fail on the boundary mutant the old suite let through.
    (repo / "shop.py").write_text(SHOP.replace("total >= 100", "total > 100"))
    assert run_pytest(repo, "tests/test_shop.py").returncode == 0  # the old suite misses it
    on_mutant = run_pytest(repo, new_test)
    assert on_mutant.returncode == 1, on_mutant.stdout
    assert "assert 0 == 10" in on_mutant.stdout


def test_a_suite_that_cannot_see_the_sentinel_stops_the_method(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo({"shop.py": SHOP, "tests/test_shop.py": SWALLOWING_TESTS})
    done, report = _chaos(repo, tmp_path)  # no --target: the profiled hot spot
    assert done.returncode == 0, done.stderr
    assert [t["target"] for t in report["targets"]] == ["shop:discount"]
    assert report["candidates"] == []
    notes = " ".join(report["notes"])
    assert "the setup cannot tell a mutant from the original" in notes
    assert "mutation score" not in notes


DISCOUNT = Target(file="shop.py", module="shop", qualname="discount")


def test_performance_gate_does_not_apply_to_a_tests_only_change(
    gate_bench: Callable[..., GateBench],
) -> None:
    bench = gate_bench({"shop.py": SHOP, "tests/test_shop.py": LOOSE_TESTS})
    new_test = {"tests/test_more.py": "def test_x():\n    pass\n"}
    verdict = performance.check(bench.context(new_test, target=DISCOUNT))
    assert verdict.passed and "no target code changed" in verdict.reason
    assert verdict.details["applicable"] is False
    with_code = bench.context({**new_test, "shop.py": SHOP + "\n# note\n"}, target=DISCOUNT)
    refused = performance.check(with_code)
    assert not refused.passed and "no captured calls" in refused.reason


def test_new_file_diff_applies_and_its_reverse_removes_the_file(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo({"shop.py": SHOP})
    diff = new_file_diff("tests/test_new.py", "def test_new():\n    assert True\n")
    patch = repo.parent / "new.patch"
    patch.write_text(diff)
    git.Repo(repo).git.apply(str(patch))
    assert (repo / "tests/test_new.py").read_text() == "def test_new():\n    assert True\n"
    patch.write_text(reverse_diff(diff))
    git.Repo(repo).git.apply(str(patch))
    assert not (repo / "tests/test_new.py").exists()


OPS = '''\
def take(items, n):
    """Remove the first ``n`` items from ``items``; return how many were removed."""
    if n < 0:
        raise ValueError("n must not be negative")
    taken = items[:n]
    del items[:n]
    return len(taken)
'''

OPS_TESTS = """\
from ops import take


def test_take_two():
    assert take([1, 2, 3], 2) == 2


def test_take_nothing():
    assert take([], 0) == 0
"""


def test_pinned_tests_cover_raised_errors_and_arguments_changed_in_place(
    gate_bench: Callable[..., GateBench],
) -> None:
    target = Target(file="ops.py", module="ops", qualname="take")
    bench = gate_bench({"ops.py": OPS, "tests/test_ops.py": OPS_TESTS}, capture=(target,))
    base = observe(bench.request, bench.baseline, bench.baseline.root, target)
    assert [o.args for o in base.outcomes if not o.derived] == [("[1, 2, 3]", "2"), ("[]", "0")]
    by_description = {m.description: m for m in mutations.mutants(OPS, "take")}
    expected = {
        "`del items[:n]` removed": "assert arg_0 == [3]",
        '`raise ValueError("n must not be negative")` removed': "with pytest.raises(ValueError",
    }
    for number, (description, line) in enumerate(expected.items()):
        mutant = by_description[description]
        mutant_root = bench.worktrees.add(f"mutant-{number}", bench.request.base_commit)
        (mutant_root / "ops.py").write_text(mutant.source)
        pinned = disagreement(
            base, observe(bench.request, bench.baseline, mutant_root, target, base.outcomes)
        )
        assert pinned is not None, description
        case = Case("test_pinned", (mutant.label,), pinned)
        text = _proven(bench, target, case, mutant_root, number)
        assert line in text, text


def test_new_test_file_goes_where_the_tests_live_and_never_over_an_existing_file(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(
        {
            "proj/src/shop.py": SHOP,
            "proj/checks/test_shop.py": LOOSE_TESTS,
            "proj/checks/test_selfimprove_shop_discount.py": "",
        }
    )
    request = make_request(repo, "proj")
    outcomes = {f"checks/test_shop.py::{n}": "passed" for n in ("test_a", "test_b")}
    baseline = Baseline(repo, repo.parent / "work", outcomes, ("src",))
    target = Target(file="src/shop.py", module="shop", qualname="discount")
    assert where_tests_live(request, baseline) == "checks"
    assert new_test_path(request, baseline, target) == "checks/test_selfimprove_shop_discount_2.py"


def test_tidy_applies_the_projects_own_ruff_settings(make_repo: Callable[..., Path]) -> None:
    config = '[tool.ruff]\nline-length = 60\n\n[tool.ruff.lint]\nselect = ["I"]\n'
    repo = make_repo({"pyproject.toml": config, "shop.py": SHOP})
    messy = "import sys\nimport os\nx = (os.sep, sys.argv, 'a' * 20, 'aaaaaaaaaaaaaaaaaaaa', 'b')\n"
    tidy_text = tidy(make_request(repo), repo, "tests/test_x.py", messy)
    assert tidy_text.startswith("import os\nimport sys\n")
    assert max(len(line) for line in tidy_text.splitlines()) <= 60
    assert '"aaaaaaaaaaaaaaaaaaaa"' in tidy_text


def _outcome(args: str, kind: str = "return", result: str = "0", **more: object) -> Outcome:
    entry: dict[str, Any] = {"args": [args], "kwargs": {}, "outcome": kind, "result": result}
    entry |= {"result_literal": True, "after": f"([{args}], {{}})", **more}
    return Outcome.from_json(entry)


def test_disagreement_prefers_inputs_already_pinned_then_finished_then_short() -> None:
    base = Observed((_outcome("1000"), _outcome("99"), _outcome("5")))
    mutant = Observed(
        (_outcome("1000", result="1"), _outcome("99", result="1"), _outcome("5", kind="timeout"))
    )
    shortest_finished = disagreement(base, mutant)
    assert shortest_finished is not None and shortest_finished.base.args == ("99",)
    pinned = disagreement(base, mutant, [_outcome("1000")])
    assert pinned is not None and pinned.base.args == ("1000",)
    same = Observed(base.outcomes)
    assert disagreement(base, same) is None and unpinned(base, same) == ""
    local = {"result_literal": False, "result_type": "shop:make.<locals>.Box"}
    unwritable = Observed((_outcome("1", result="<Box at 0x1>", **local),))
    assert disagreement(unwritable, Observed((_outcome("1", result="2"),))) is None
    why = unpinned(unwritable, Observed((_outcome("1", result="2"),)))
    assert why.startswith(DIFFERS) and "shop:make.<locals>.Box, which no test can name" in why
    named = {"result_literal": False, "result_type": "gettext:NullTranslations"}
    objects = Observed((_outcome("1", result="<NullTranslations at 0x1>", **named),))
    elsewhere = Observed((_outcome("1", result="<NullTranslations at 0x2>", **named),))
    assert disagreement(objects, elsewhere) is None  # the same type: only the address differs
    by_type = disagreement(objects, Observed((_outcome("1", result="None"),)))
    assert by_type is not None and by_type.base.by_type
    huge = repr(list(range(200)))  # a test that spells this out helps nobody
    too_long = Observed((_outcome(huge, result="1"),))
    assert disagreement(Observed((_outcome(huge),)), too_long) is None


@pytest.mark.parametrize(
    ("mutant", "cut"),
    [
        ({"result": "[0.0, 1.0, 2.0]"}, "[0, 3]"),  # 0 == 0.0 in a test: 3 != 1.0 tells them
        ({"kind": "raise", "yields": 1, "exhausted": True}, "[0, 3]"),  # raises taking 3
        ({"result": "[0, 3]", "exhausted": True}, None),  # it stops early: all three needed
        ({"result": "[0, 3, 6, 9]", "yields": 4}, None),  # it goes on: so must the pin
    ],
)
def test_a_generator_is_pinned_only_as_far_as_the_mutant_differs(
    mutant: dict[str, Any], cut: str | None
) -> None:
    theirs = Observed((_outcome("3", **{"yields": 3, "exhausted": False, **mutant}),))
    for exhausted in (True, False):  # the base's three items are all, or the first of more
        ours = _outcome("3", result="[0, 3, 6]", yields=3, exhausted=exhausted)
        found = disagreement(Observed((ours,)), theirs)
        assert found is not None
        if cut is None:
            assert found.base == ours
        else:
            assert (found.base.result, found.base.yields, found.base.exhausted) == (cut, 2, False)


FILL = "def fill(items: list[int], extra: dict[str, int]) -> None:\n    items.append(1)\n"


def test_an_empty_argument_is_typed_so_the_projects_mypy_accepts_the_test(
    tmp_path: Path,
) -> None:
    """tabulate's test wrote ``arg_1 = []`` and the types gate refused it: "Need type
    annotation"; an empty list or dict is now written ``list[Any]`` (``dict[Any, Any]``), and
    a call that returns None is made, not asserted (mypy: "does not return a value")."""
    entry = {"args": ["[]", "{}"], "kwargs": {}, "outcome": "return", "result": "None"}
    entry |= {"result_literal": True, "after": "([[1], {}], {})"}
    base = Outcome.from_json(entry)
    mutant = Outcome.from_json({**entry, "after": "([[], {}], {})"})
    pinned = disagreement(Observed((base,)), Observed((mutant,)))
    assert pinned is not None and pinned.only_in_arguments
    target = Target(file="fill.py", module="fill", qualname="fill")
    text = render_file(target, [Case("test_pinned", ("`items.append(1)` removed",), pinned)])
    assert "arg_0: list[Any] = []" in text and "arg_1: dict[Any, Any] = {}" in text
    assert "    fill(arg_0, arg_1)\n" in text and "is None" not in text  # mypy: no value
    assert "    assert arg_0 == [1]" in text
    (tmp_path / "fill.py").write_text(FILL)
    checked = _strict_mypy(tmp_path, text)
    assert checked.returncode == 0, checked.stdout + text
    untyped = text.replace(": list[Any] = []", " = []").replace(": dict[Any, Any] = {}", " = {}")
    assert "Need type annotation" in _strict_mypy(tmp_path, untyped).stdout  # as it was written


def _strict_mypy(folder: Path, test_text: str) -> subprocess.CompletedProcess[str]:
    """``mypy --strict`` on ``test_text`` saved as ``test_fill.py`` in ``folder``."""
    (folder / "test_fill.py").write_text(test_text)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "test_fill.py"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )


def _proven(
    bench: GateBench, target: Target, case: Case, mutant_root: Path, number: int = 0
) -> str:
    """The test file pinning ``case``, checked to pass on a fresh base worktree and to fail
    in the mutant's ``mutant_root``."""
    text = render_file(target, [case])
    base_root = bench.worktrees.add(f"base-{number}", bench.request.base_commit)
    for root in (base_root, mutant_root):
        (root / "tests/test_pinned.py").write_text(text)
    assert run_pytest(base_root, "tests/test_pinned.py").returncode == 0, text
    assert run_pytest(mutant_root, "tests/test_pinned.py").returncode == 1, text
    return text


def _pinned_on(
    bench: GateBench, target: Target, mutant: mutations.Mutant
) -> tuple[Disagreement | None, Path]:
    """The input a test would pin against ``mutant`` (in a worktree of its own), and where."""
    base = observe(bench.request, bench.baseline, bench.baseline.root, target)
    mutant_root = bench.worktrees.add("mutant", bench.request.base_commit)
    (mutant_root / target.file).write_text(mutant.source)
    observed = observe(bench.request, bench.baseline, mutant_root, target, base.outcomes)
    return disagreement(base, observed), mutant_root


RATIO = '''\
import fractions


def ratio(a, b):
    """``a / b`` exactly, or None when ``b`` is 0."""
    if b:
        return fractions.Fraction(a, b)
    return None
'''

RATIO_TESTS = """\
from ratio import ratio


def test_ratio_runs():
    ratio(1, 2)
"""


def test_a_result_no_literal_spells_is_pinned_by_its_type(
    gate_bench: Callable[..., GateBench],
) -> None:
    """``Fraction(1, 2)`` is no literal, yet a mutant returning None is told apart by type."""
    target = Target(file="ratio.py", module="ratio", qualname="ratio")
    bench = gate_bench({"ratio.py": RATIO, "tests/test_ratio.py": RATIO_TESTS}, capture=(target,))
    (mutant,) = [
        m for m in mutations.mutants(RATIO, "ratio") if m.operator == "return-none" and m.line == 7
    ]
    pinned, mutant_root = _pinned_on(bench, target, mutant)
    assert pinned is not None and pinned.base.result_type == "fractions:Fraction"
    text = _proven(bench, target, Case("test_pinned", (mutant.label,), pinned), mutant_root)
    assert "assert type(result).__qualname__ == 'Fraction'" in text, text


TIER = '''\
def tier(n):
    """Small up to 100 items, large above."""
    if n <= 100:
        return "small"
    return "large"
'''

TIER_TESTS = """\
from tier import tier


def test_tiers():
    assert tier(5) == "small"
    assert tier(500) == "large"
"""


def test_a_number_written_in_the_function_is_tried_as_an_argument(
    gate_bench: Callable[..., GateBench],
) -> None:
    """``<=`` flipped to ``<`` differs only at 100: neither 5, 500 nor their neighbours show
    it, the function's own constant does."""
    target = Target(file="tier.py", module="tier", qualname="tier")
    bench = gate_bench({"tier.py": TIER, "tests/test_tier.py": TIER_TESTS}, capture=(target,))
    (mutant,) = [m for m in mutations.mutants(TIER, "tier") if "`<=` -> `<`" in m.description]
    pinned, _ = _pinned_on(bench, target, mutant)
    assert pinned is not None and pinned.base.args == ("100",), pinned
    assert pinned.base.result == "'small'" and pinned.mutant.result == "'large'"


PICK = '''\
from typing import Literal


def pick(kind: Literal["fast", "slow"], n: int | None = None) -> str:
    """A label for ``kind`` and ``n``."""
    return f"{kind}:{n}"
'''

PICK_TESTS = """\
from pick import pick


def test_pick():
    assert pick("fast", 3) == "fast:3"
"""


def test_derived_inputs_keep_to_the_parameters_annotations(
    gate_bench: Callable[..., GateBench],
) -> None:
    """``kind`` may only be "fast" or "slow": an empty or cut string would make a test the
    project's mypy rejects; ``n`` is an int or None, so its neighbours are all fine."""
    target = Target(file="pick.py", module="pick", qualname="pick")
    bench = gate_bench({"pick.py": PICK, "tests/test_pick.py": PICK_TESTS}, capture=(target,))
    base = observe(bench.request, bench.baseline, bench.baseline.root, target)
    derived = {o.args for o in base.outcomes if o.derived}
    assert derived == {("'fast'", n) for n in ("2", "4", "0")}


GENS = '''\
def upto(n):
    """The numbers from 1 to ``n``."""
    i = 1
    while i <= n:
        yield i
        i += 1


def multiples(step):
    """0, ``step``, twice ``step``, ... for ever."""
    i = 0
    while True:
        yield i * step
        i += 1
'''

GENS_TESTS = """\
from gens import multiples, upto


def test_three_is_in_range():
    assert 3 in upto(5)


def test_multiples_start_at_zero():
    assert next(multiples(3)) == 0
"""


def test_a_generator_is_pinned_by_its_items_or_by_a_prefix_of_an_endless_one(
    gate_bench: Callable[..., GateBench],
) -> None:
    """The suite stops early on both generators, so a boundary flip and a wrong step survive
    it; the tests written take all of ``upto``'s items, and of the endless ``multiples`` as
    many as tell the mutant apart (it yields 6 where the base yields 3)."""
    upto = Target(file="gens.py", module="gens", qualname="upto")
    multiples = Target(file="gens.py", module="gens", qualname="multiples")
    files = {"gens.py": GENS, "tests/test_gens.py": GENS_TESTS}
    bench = gate_bench(files, capture=(upto, multiples))
    expected = {
        (upto, "`<=` -> `<`"): "assert list(upto(4)) == [1, 2, 3, 4]",
        (multiples, "`1` -> `2`"): "assert list(itertools.islice(multiples(3), 2)) == [0, 3]\n",
    }
    for number, ((target, description), line) in enumerate(expected.items()):
        (mutant,) = [
            m
            for m in mutations.mutants(GENS, target.qualname)
            if m.description == description and m.line in (4, 14)
        ]
        base = observe(bench.request, bench.baseline, bench.baseline.root, target)
        mutant_root = bench.worktrees.add(f"mutant-{number}", bench.request.base_commit)
        (mutant_root / "gens.py").write_text(mutant.source)
        assert run_pytest(mutant_root, "tests/test_gens.py").returncode == 0  # it survives
        observed = observe(bench.request, bench.baseline, mutant_root, target, base.outcomes)
        pinned = disagreement(base, observed)
        assert pinned is not None, description
        case = Case("test_pinned", (mutant.label,), pinned)
        text = _proven(bench, target, case, mutant_root, number)
        assert line in text, text
