"""The merge rule inside one run: changes sharing a file ship as one proven whole, or not at all.

The gate cascade is injected as ``evaluate``; here it is a judge that applies the diff
to the base text and accepts or refuses by what the code would then be, so the test
shows which wholes the rule asks to prove and what it ships for each verdict. The real
cascade on a real run is exercised by tests/test_plan_merge.py's done-when test.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.core.candidate import Candidate, Target
from bot.core.diffs import make_diff
from bot.core.evaluation import Evaluation, GateResult
from bot.flow.merge_rule import merge_same_files
from validators.cascade import GATES

BASE = "".join(f"value_{i} = {i}\n" for i in range(1, 41))
OTHER = "x = 1\n"


def edit(line: int, text: str = BASE) -> str:
    lines = text.splitlines(keepends=True)
    lines[line - 1] = lines[line - 1].replace(" = ", " = -")
    return "".join(lines)


def accepted(
    name: str, new: str, speedup: float, path: str = "m.py", old: str = BASE
) -> Evaluation:
    candidate = Candidate(
        Target(path, path.removesuffix(".py"), name),
        make_diff(path, old, new),
        (path,),
        "test-driven",
        "codemods",
        "rule",
        name,
    )
    return verdict(candidate, True, speedup)


def verdict(candidate: Candidate, passed: bool, speedup: float = 1.5) -> Evaluation:
    """Every gate but the last passes; the performance gate says ``passed``."""
    results = [GateResult(g.NAME, True, 0.0, "ok") for g in GATES[:-1]]
    reason = "ok" if passed else "slower together"
    results.append(GateResult("performance", passed, 0.0, reason, {"ratio": speedup}))
    return Evaluation(candidate, tuple(results), len(GATES))


def judge(
    refuse_when: Callable[[str], bool],
) -> tuple[list[Candidate], Callable[[Candidate], Evaluation]]:
    asked: list[Candidate] = []

    def evaluate(candidate: Candidate) -> Evaluation:
        asked.append(candidate)
        return verdict(candidate, not refuse_when(candidate.diff))

    return asked, evaluate


def test_changes_to_different_files_ship_as_they_are() -> None:
    a, b = accepted("a", edit(5), 2.0), accepted("b", "x = 2\n", 1.5, "n.py", OTHER)
    asked, evaluate = judge(lambda diff: False)
    merged = merge_same_files([a, b], evaluate, {"m.py": BASE, "n.py": OTHER}.__getitem__)
    assert merged.chosen == [a, b] and asked == [] and merged.notes == []


def test_two_changes_to_one_file_ship_as_one_whole_proven_for_each_target() -> None:
    a, b = accepted("a", edit(5), 2.0), accepted("b", edit(30), 1.5)
    asked, evaluate = judge(lambda diff: False)
    merged = merge_same_files([b, a], evaluate, lambda path: BASE)
    assert [c.target.qualname for c in asked] == ["a", "b"]  # fastest first, one per target
    assert {c.diff for c in asked} == {make_diff("m.py", BASE, edit(30, edit(5)))}
    (whole,) = merged.chosen
    assert whole.candidate.rule == "merged" and whole.accepted
    assert merged.evaluations == [whole, merged.evaluations[1]]
    assert merged.notes == ["merged 2 changes to m.py into one, proven again as a whole"]


def test_overlapping_changes_keep_the_faster_without_a_new_proof() -> None:
    slow, fast = accepted("slow", edit(10), 1.2), accepted("fast", edit(11), 2.4)
    asked, evaluate = judge(lambda diff: False)
    merged = merge_same_files([slow, fast], evaluate, lambda path: BASE)
    assert merged.chosen == [fast] and asked == []
    assert merged.notes[0].startswith(f"{slow.candidate.id} overlaps {fast.candidate.id}")


def test_parts_that_fail_together_ship_only_the_fastest() -> None:
    a, b = accepted("a", edit(5), 2.0), accepted("b", edit(30), 1.5)
    both = make_diff("m.py", BASE, edit(30, edit(5)))
    asked, evaluate = judge(lambda diff: diff == both)
    merged = merge_same_files([a, b], evaluate, lambda path: BASE)
    assert merged.chosen == [a]
    assert len(asked) == 1  # the first refusal ends the proof
    assert "fail together (performance: slower together)" in merged.notes[0]
    assert merged.notes[0].endswith(f"only the fastest, {a.candidate.id}, is shipped")
