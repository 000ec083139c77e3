"""rewrites_for: the one entry point the methods call."""

from __future__ import annotations

import ast
import re
import textwrap

from methods.codemods import RULES, Rewrite, apply_rule, rewrites_for

SOURCE = textwrap.dedent(
    """
    import math
    import re


    def norms(rows):
        out = []
        for row in rows:
            out.append(re.match("[0-3]", row))
        return out


    def roots(xs):
        total = 0.0
        for x in xs:
            total += math.sqrt(x)
        return total


    class Grid:
        def labels(self, cells):
            text = ""
            for cell in cells:
                text += str(cell)
            return text
    """
)


def _rules(rewrites: list[Rewrite]) -> list[str]:
    return [r.rule for r in rewrites]


def test_rule_ids_are_unique_kebab_case_and_described() -> None:
    ids = [rule.RULE_ID for rule in RULES]
    assert len(set(ids)) == len(ids) >= 7
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", i) for i in ids)
    assert all(rule.DESCRIPTION.endswith(".") for rule in RULES)


def test_one_rewrite_per_rule_plus_combined() -> None:
    rewrites = rewrites_for(SOURCE, "norms")
    assert _rules(rewrites) == [
        "regex-compile",
        "list-comprehension",
        "hoist-attribute",
        "hoist-invariant",
        "combined",
    ]
    by_rule = {r.rule: r for r in rewrites}
    for rule in RULES:
        if rule.RULE_ID in by_rule:
            assert by_rule[rule.RULE_ID].source == apply_rule(rule, SOURCE, "norms")
            assert by_rule[rule.RULE_ID].description == rule.DESCRIPTION
    combined = by_rule["combined"].source
    regex = next(rule for rule in RULES if rule.RULE_ID == "regex-compile")
    comprehension = next(rule for rule in RULES if rule.RULE_ID == "list-comprehension")
    step = apply_rule(regex, SOURCE, "norms")
    assert step is not None
    assert combined == apply_rule(comprehension, step, "norms")
    assert "regex-compile" in by_rule["combined"].description
    for rewrite in rewrites:
        ast.parse(rewrite.source)
        assert rewrite.source.split("def roots")[1] == SOURCE.split("def roots")[1]


def test_a_single_rule_gets_no_combined_rewrite() -> None:
    assert _rules(rewrites_for(SOURCE, "roots")) == ["hoist-attribute"]


def test_methods_are_found_by_class_and_name() -> None:
    rewrites = rewrites_for(SOURCE, "Grid.labels")
    assert _rules(rewrites) == ["string-join"]
    assert rewrites_for(SOURCE, "labels") == []
    assert rewrites_for(SOURCE, "Grid.<locals>.labels") == rewrites


def test_unknown_targets_and_bad_sources_give_nothing() -> None:
    assert rewrites_for(SOURCE, "missing") == []
    assert rewrites_for(SOURCE, "Grid") == []
    assert rewrites_for(SOURCE, "") == []
    assert rewrites_for("def broken(:\n    pass\n", "broken") == []
    assert rewrites_for("", "f") == []


def test_never_raises_on_unusual_valid_code() -> None:
    source = textwrap.dedent(
        """
        import math

        async def f(xs, *, key=lambda v: v in [1, 2, 3, 4]):
            '''doc'''
            global G
            async with xs as ys:
                async for y in ys:
                    match y:
                        case [1, *rest] if rest:
                            print(math.pi, f"{y!r:>{10}}")
            return [x async for x in xs]
        """
    )
    for rewrite in rewrites_for(source, "f"):
        ast.parse(rewrite.source)


def test_combined_rewrites_the_loop_header_before_the_loop_becomes_a_comprehension() -> None:
    source = textwrap.dedent(
        """
        def ranked(words: list[str]) -> list[tuple[int, str]]:
            unique = set(words)
            out = []
            for word in list(unique):
                out.append((len(word), word))
            return out
        """
    )
    found = {r.rule: r for r in rewrites_for(source, "ranked")}
    # no hoist-invariant: mypy learns the type of ``out = []`` from its first append
    assert set(found) == {"redundant-list-copy", "list-comprehension", "combined"}
    combined = found["combined"].source
    assert "out = [(len(word), word) for word in unique]" in combined
    namespace: dict[str, object] = {}
    exec(compile(combined, "<combined>", "exec"), namespace)  # our own test input
    ranked = namespace["ranked"]
    assert callable(ranked)
    assert sorted(ranked(["a", "bb", "a"])) == [(1, "a"), (2, "bb")]
