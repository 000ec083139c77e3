"""Where chaos finds its inputs: rebuilt receivers for methods, and long inputs shrunk.

Tiny projects made in tmp. A class project whose suite builds its receivers in every way
the capture must tell apart (a literal constructor call, a factory around a constructor
whose argument is no literal, an object changed after it was built, one built before the
tests ran), with a static and a class method beside them; and a geometry project whose only
informative recorded call is 2,000 points long.
"""

from __future__ import annotations

import ast
import importlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import git
import pytest

from bot.core.candidate import Target
from bot.core.harness import HARNESS_DIR
from methods import attack, mutations
from methods.mutant_inputs import Observed, disagreement, observe, shrink
from methods.regression_tests import Case, render_file
from tests.conftest import GateBench, run_cli
from tests.methods.support import run_pytest

GREET = """\
import re


class Greeter:
    def __init__(self, greeting, punctuation="!"):
        self.greeting = greeting
        self.punctuation = punctuation

    def greet(self, name):
        if not name:
            return self.greeting + self.punctuation
        return self.greeting + ", " + name + self.punctuation

    @staticmethod
    def shout(text):
        return text.upper() + "!"

    yell = shout

    def wave(self):
        return "~" + self.greeting

    hi = wave

    @classmethod
    def polite(cls, name):
        return cls("Good day", ".").greet(name)


class Tokenizer:
    def __init__(self, pattern):
        self.pattern = pattern

    def count(self, text):
        return len(self.pattern.findall(text))


def tokenizer(word):
    return Tokenizer(re.compile(word))


class Tally:
    def __init__(self):
        self.total = 0

    def add(self, n):
        self.total += n
        return self.total


class Switch:
    def __init__(self):
        self.loud = False

    def turn(self, loud):
        self.loud = loud

    def say(self, word):
        return word.upper() if self.loud else word

    def both(self, word):
        saved, self.loud = self.loud, True  # set from inside: no outside call did this
        try:
            return self.say(word)
        finally:
            self.loud = saved


WORD = re.compile(r"\\A\\s*(.+?)\\s*\\Z")


class Lines:
    def first(self, text):
        if not text:
            raise ValueError("no text")
        found = WORD.search(text)
        if not found:
            return text
        return found.group(1)


class Store:
    def __init__(self):
        self.items = {}

    def __setitem__(self, key, value):
        self.items[key] = value

    def __delitem__(self, key):
        del self.items[key]

    def size(self):
        return self.__count()

    def __count(self):
        return len(self.items)


class SmallStore(Store):
    def __init__(self, limit):
        Store.__init__(self)
        self.limit = limit


DEFAULT = Greeter("Hi")
"""

GREET_TESTS = """\
import pytest

from greet import DEFAULT, Greeter, Lines, SmallStore, Store, Switch, Tally, tokenizer


def test_greet():
    assert Greeter("Hey").greet("Ann").startswith("Hey")
    assert DEFAULT.greet("Cy").startswith("Hi")


def test_static_and_class_methods():
    assert Greeter.shout("hi") == "HI!"
    assert Greeter.polite("Bo").startswith("Good day")


def test_aliases_stay_the_same_method():
    assert Greeter.yell is Greeter.shout and Greeter.hi is Greeter.wave


def test_tokens():
    assert tokenizer("[a-z]+").count("ab cd") == 2


def test_tally():
    tally = Tally()
    tally.add(2)
    assert tally.add(3) == 5
    other = Tally()
    other.total = 7
    assert other.add(1) == 8


def test_switch():
    switch = Switch()
    switch.turn(1)
    assert switch.both("a") == "A"


def test_lines():
    assert Lines().first("  a b ") == "a b"


def test_store():
    store = SmallStore(2)
    store["a"] = 1
    store["b"] = 2
    del store["a"]
    with pytest.raises(KeyError):  # raised: no setup call a test could make
        del store["a"]
    assert store.size() == 1


class LoudStore(Store):  # defined by the tests: no new test can import it
    def __init__(self):
        Store.__init__(self)


def test_loud_store():
    assert LoudStore().size() == 0


def test_busy_store():
    store = SmallStore(9)
    for key in range(34):
        store[key] = key
    for key in range(33):  # only the last 32 calls are kept: del store[0] is not
        del store[key]
    assert store.size() == 1
"""


def _target(qualname: str, module: str = "greet") -> Target:
    return Target(file=f"{module}.py", module=module, qualname=qualname)


GREET_TARGETS = tuple(
    _target(q)
    for q in (
        "Greeter.greet",
        "Greeter.shout",
        "Greeter.polite",
        "Tokenizer.count",
        "Tally.add",
        "Switch.say",
        "Lines.first",
        "Store.size",
        "Store.__count",
    )
)


@pytest.fixture
def greet_bench(gate_bench: Callable[..., GateBench]) -> GateBench:
    return gate_bench(
        {"greet.py": GREET, "tests/test_greet.py": GREET_TESTS}, capture=GREET_TARGETS
    )


def _callees(observed: Observed) -> dict[str, list[tuple[str, ...]]]:
    found: dict[str, list[tuple[str, ...]]] = {}
    for outcome in observed.outcomes:
        if not outcome.derived:
            found.setdefault(outcome.callee, []).append(outcome.args)
    return found


def test_methods_are_called_on_receivers_rebuilt_the_way_the_suite_built_them(
    greet_bench: GateBench,
) -> None:
    bench = greet_bench
    greet, shout, polite, count, add, say, _, size, private = GREET_TARGETS

    def base(target: Target) -> Observed:
        return observe(bench.request, bench.baseline, bench.baseline.root, target)

    # Wrapping for the capture changed nothing the suite can see (aliases stay aliases).
    assert set(bench.baseline.test_outcomes.values()) == {"passed"}, bench.baseline.test_outcomes
    greeted = base(greet)
    # Literal constructor calls are rebuilt (the test's, and the one inside polite);
    # DEFAULT was built before the tests ran.
    assert _callees(greeted) == {
        "Greeter('Hey').greet": [("'Ann'",)],
        "Greeter('Good day', '.').greet": [("'Bo'",)],
    }
    [(why, times)] = greeted.refused
    assert times == 1 and "no call building this Greeter was seen" in why
    # Through the factory: the constructor's argument is a compiled pattern, no literal.
    counted = base(count)
    assert _callees(counted) == {"tokenizer('[a-z]+').count": [("'ab cd'",)]}
    assert counted.outcomes[0].imports == (("greet", "tokenizer"),)
    assert counted.outcomes[0].result == "2"
    # A receiver set up by calls after it was built is rebuilt with them; one changed
    # behind its methods' back is refused, with the difference.
    added = base(add)
    assert _callees(added) == {"Tally().add": [("2",)], "receiver.add": [("3",)]}
    [set_up] = [o for o in added.outcomes if o.callee == "receiver.add" and not o.derived]
    assert set_up.setup == ("receiver = Tally()", "receiver.add(2)") and set_up.result == "5"
    [(why, times)] = added.refused
    assert times == 1 and "builds a different receiver" in why and "0 != 7" in why, why
    # A receiver equal to the suite's, though not in type (``loud`` is 1 where it held True),
    # stands in for it: a test made on it is proven by running it anyway.
    assert _callees(base(say)) == {"receiver.say": [("'a'",)]}
    # A subclass's own constructor builds it, and items set and deleted set it up (a
    # deletion that raised does not).
    sized = base(size)
    [stored] = [o for o in sized.outcomes if not o.derived]
    refused = dict(sized.refused)
    assert refused.pop("a LoudStore, a class the tests define (no new test can import it)") == 1
    [(why, times)] = refused.items()  # more setup than the last 32 calls, which are kept
    assert times == 1 and "replaying its setup calls failed: `del receiver[1]` raised" in why
    assert stored.setup == (
        "receiver = SmallStore(2)",
        "receiver['a'] = 1",
        "receiver['b'] = 2",
        "del receiver['a']",
    )
    assert (stored.callee, stored.result) == ("receiver.size", "1")
    # A private method is called by the name Python stores it under.
    [counted] = [o for o in base(private).outcomes if o.setup == stored.setup]
    assert (counted.callee, counted.result) == ("receiver._Store__count", "1")
    # Static and class methods are called through their class (no cls among the arguments).
    assert _callees(base(shout)) == {"Greeter.shout": [("'hi'",)]}
    assert _callees(base(polite)) == {"Greeter.polite": [("'Bo'",)]}


@pytest.mark.parametrize(
    ("index", "operator", "callee", "expected"),
    [
        (0, "condition-negation", "Greeter('Hey').greet", "assert Greeter('Hey').greet("),
        (4, "arithmetic-swap", "receiver.add", "receiver = Tally()\n    receiver.add(2)\n"),
    ],
)
def test_a_method_mutant_is_killed_by_a_test_through_a_rebuilt_receiver(
    greet_bench: GateBench, index: int, operator: str, callee: str, expected: str
) -> None:
    bench = greet_bench
    target = GREET_TARGETS[index]
    base = observe(bench.request, bench.baseline, bench.baseline.root, target)
    [mutant] = [m for m in mutations.mutants(GREET, target.qualname) if m.operator == operator]
    root = bench.worktrees.add("mutant", bench.request.base_commit)
    (root / "greet.py").write_text(mutant.source)
    preferred = [o for o in base.outcomes if o.callee == callee]
    pinned = disagreement(
        base, observe(bench.request, bench.baseline, root, target, base.outcomes), preferred
    )
    assert pinned is not None and pinned.base.callee == callee
    text = render_file(target, [Case("test_pinned", (mutant.label,), pinned)])
    imported = target.qualname.split(".")[0]
    assert f"from greet import {imported}\n" in text
    assert expected in text, text
    assert "pickle" not in text
    base_root = bench.worktrees.add("base", bench.request.base_commit)
    for where in (base_root, root):
        (where / "tests/test_pinned.py").write_text(text)
    assert run_pytest(base_root, "tests/test_pinned.py").returncode == 0, text
    assert run_pytest(root, "tests/test_pinned.py").returncode == 1, text


def test_multi_line_text_reaches_a_branch_no_recorded_call_did(greet_bench: GateBench) -> None:
    """``return text`` -> ``return None`` runs only where the pattern finds no word: blank
    or empty text is refused first, so only text on two lines reaches it."""
    bench = greet_bench
    target = GREET_TARGETS[6]
    base = observe(bench.request, bench.baseline, bench.baseline.root, target)
    [mutant] = [
        m
        for m in mutations.mutants(GREET, target.qualname)
        if m.description == "`return text` -> `return None`"
    ]
    root = bench.worktrees.add("mutant", bench.request.base_commit)
    (root / "greet.py").write_text(mutant.source)
    pinned = disagreement(base, observe(bench.request, bench.baseline, root, target, base.outcomes))
    assert pinned is not None, [o.args for o in base.outcomes]
    assert pinned.base.derived and pinned.base.args == (repr("  a b \n  a b "),)
    assert pinned.base.result == pinned.base.args[0] and pinned.mutant.result == "None"


def test_adversarial_derives_edge_cases_for_method_arguments(
    greet_bench: GateBench, tmp_path: Path
) -> None:
    bench = greet_bench
    project = bench.request.project_path(bench.baseline.root)
    assert bench.baseline.capture_file is not None
    for target, argument in zip(GREET_TARGETS[:3], ("name", "text", "name"), strict=True):
        cases = attack.derive(
            bench.request,
            project,
            bench.baseline.capture_file,
            target.key,
            bench.baseline.import_roots,
            tmp_path,
        )
        assert cases.count > 5 and not cases.errors, (target.key, cases)
        labels = (tmp_path / cases.file.name).read_text()
        assert f"{argument} = ''" in labels, target.key
        assert "a string on two lines" in labels, target.key


GEOMETRY = '''\
import math


def distances(points, origin):
    """Euclidean distance of every point from ``origin``."""
    ox, oy = origin
    result = []
    for x, y in points:
        result.append(math.hypot(x - ox, y - oy))
    return result
'''

GEOMETRY_TESTS = """\
from geometry import distances


def test_no_points():
    assert distances([], (0.0, 0.0)) == []


def test_many():
    points = [(float(i % 97), float(i % 89)) for i in range(2000)]
    assert len(distances(points, (1.0, 2.0))) == 2000
"""


def test_a_long_input_that_tells_a_mutant_apart_is_shrunk_to_a_test_sized_one(
    gate_bench: Callable[..., GateBench],
) -> None:
    target = _target("distances", "geometry")
    files = {"geometry.py": GEOMETRY, "tests/test_geometry.py": GEOMETRY_TESTS}
    bench = gate_bench(files, capture=(target,))
    base = observe(bench.request, bench.baseline, bench.baseline.root, target)
    [mutant] = [m for m in mutations.mutants(GEOMETRY, "distances") if "x - ox" in m.description]
    root = bench.worktrees.add("mutant", bench.request.base_commit)
    (root / "geometry.py").write_text(mutant.source)
    # The short recorded call and its neighbours cannot tell x - ox from x + ox ...
    assert (
        disagreement(base, observe(bench.request, bench.baseline, root, target, base.outcomes))
        is None
    )
    # ... the 2,000 points can, and shrink to one point.
    pinned = disagreement(*shrink(bench.request, bench.baseline, root, target))
    assert pinned is not None
    points, origin = (ast.literal_eval(a) for a in pinned.base.args)
    assert len(points) == 1 and len(origin) == 2, pinned.base.args
    assert pinned.base.source_size < 60
    text = render_file(target, [Case("test_shrunk", (mutant.label,), pinned)])
    base_root = bench.worktrees.add("base", bench.request.base_commit)
    for where in (base_root, root):
        (where / "tests/test_shrunk.py").write_text(text)
    assert run_pytest(base_root, "tests/test_shrunk.py").returncode == 0, text
    assert run_pytest(root, "tests/test_shrunk.py").returncode == 1, text


@pytest.fixture(scope="module")
def shrinker() -> Iterator[ModuleType]:
    sys.path.insert(0, str(HARNESS_DIR))  # as when run by path: its sibling imports
    try:
        yield importlib.import_module("selfimprove_shrink")
    finally:
        sys.path.remove(str(HARNESS_DIR))


def test_shrink_finds_the_smallest_input_on_which_a_property_holds(shrinker: ModuleType) -> None:
    big = {"items": list(range(5000)), "name": "x" * 300, "scale": 7.25}

    def holds(call: tuple[list[object], dict[str, object]]) -> bool:
        (data,), _ = call
        assert isinstance(data, dict)
        items = data.get("items", [])
        return isinstance(items, list) and any(i >= 3 for i in items) and "scale" in data

    ([found], _), tries = shrinker.shrink(([big], {}), holds, 10.0, 5000)
    # One item, moved toward 0 as far as the property allows; the name dropped; the float
    # reduced to 0.0 (not held by the property).
    assert found == {"items": [3], "scale": 0.0}, found
    assert 0 < tries < 5000
    assert list(shrinker.smaller(2.5))[:2] == [0.0, 2.0]
    assert list(shrinker.smaller(-3))[:3] == [0, -2, -1]


SHOP = """\
class Shop:
    def __init__(self, threshold):
        self.threshold = threshold

    def discount(self, total):
        if total >= self.threshold:
            return 10
        if total < 0:
            raise ValueError("negative total")
        return 0
"""

SHOP_TESTS = """\
from shop import Shop


def test_big_order():
    assert Shop(100).discount(150) == 10


def test_small_order():
    assert Shop(100).discount(20) == 0


def test_threshold_order():
    assert Shop(100).discount(100) >= 0
"""


def test_chaos_pins_a_method_and_names_a_survivor_on_a_line_that_never_ran(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo({"shop.py": SHOP, "tests/test_shop.py": SHOP_TESTS})
    done = run_cli(
        "run", "--dry-run", str(repo), "--method", "chaos", "--target", "shop.py:Shop.discount",
        "--json", "--out", str(tmp_path / "out"), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    (candidate,) = report["candidates"]
    assert candidate["accepted"], candidate
    # The report says the target is a method, and on how many recorded calls chaos could
    # rebuild its receiver (the corpus table's column).
    (target,) = report["targets"]
    assert (target["kind"], target["rebuilt_receivers"]) == ("method", 3), target
    notes = "\n".join(report["notes"])
    # Removing the raise survives: no recorded or derived total is negative, and the
    # second look says so, naming the line.
    assert '`raise ValueError("negative total")` removed' in notes, notes
    assert "untested path: shop.py line 9 never ran on the recorded calls" in notes, notes
    (accepted,) = report["accepted"]
    patch = Path(accepted["patch"]).read_text()
    assert "from shop import Shop" in patch
    assert "assert Shop(100).discount(100) == 10" in patch, patch
    git.Repo(repo).git.apply(accepted["patch"])
    new_test = "tests/test_selfimprove_shop_shop_discount.py"
    assert run_pytest(repo, new_test).returncode == 0
    (repo / "shop.py").write_text(SHOP.replace("total >= self", "total > self"))
    assert run_pytest(repo, "tests/test_shop.py").returncode == 0  # the old suite misses it
    assert run_pytest(repo, new_test).returncode == 1


RECOMPILED = '''\
import ast
import inspect
import textwrap


def checked(func):
    """Recompile ``func`` with every return's value checked, as typeguard's @typechecked
    does: the check's name carries the first return's line, whichever return it is in."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    ast.increment_lineno(tree, func.__code__.co_firstlineno - 1)
    tree.body[0].decorator_list = []
    first = min((n for n in ast.walk(tree) if isinstance(n, ast.Return)), key=lambda n: n.lineno)
    check = ast.copy_location(ast.Name("check_returned", ast.Load()), first)
    for node in ast.walk(tree):
        if isinstance(node, ast.Return):
            node.value = ast.copy_location(ast.Call(check, [node.value], []), node)
    found = {"check_returned": lambda value: value}
    exec(compile(tree, inspect.getfile(func), "exec"), func.__globals__ | found, found)
    return found[func.__name__]


def plain(text):
    if not text:
        return text
    return text.strip()


@checked
def rewritten(text):
    if not text:
        return text
    return text.strip()
'''


def test_line_hits_of_code_a_decorator_recompiled_are_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recompiled function reports its early ``return`` line on every call, so hits
    would claim the line ran when it did not; its foreign names give it away."""
    (tmp_path / "recompiled.py").write_text(RECOMPILED)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(HARNESS_DIR))
    profiler = importlib.import_module("selfimprove_lineprofile")
    recompiled = importlib.import_module("recompiled")
    early = RECOMPILED.splitlines().index("        return text", 25) + 1  # in rewritten
    traced = []

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        if event == "line" and frame.f_code is recompiled.rewritten.__code__:
            traced.append(frame.f_lineno)
        return trace

    sys.settrace(trace)
    try:
        assert recompiled.rewritten(" a ") == "a"
    finally:
        sys.settrace(None)
    assert early in traced  # the lie: the early return did not run
    assert profiler.rewritten(recompiled.plain.__code__) == []
    assert profiler.rewritten(recompiled.rewritten.__code__) == ["check_returned"]
