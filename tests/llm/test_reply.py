"""Strict reading of a model's reply: one replaced function or one diff of the target's file."""

from __future__ import annotations

import pytest

from bot.core.diffs import make_diff
from methods.llm_reply import ReplyRejected, parse_reply

SOURCE = """\
import functools

WORDS = ["a", "b", "c", "d"]


class Box:
    @functools.lru_cache(maxsize=None)
    def count(self, items: list[str]) -> int:
        total = 0
        for item in items:
            if item in WORDS:
                total += 1
        return total


def plain(x: int, y: int = 2) -> int:
    return x + y
"""
PATH = "src/pkg/mod.py"
FAST_COUNT = """\
def count(self, items: list[str]) -> int:
    allowed = set(WORDS)
    return sum(1 for item in items if item in allowed)
"""


def reply(block: str, language: str = "python") -> str:
    return f"Here is a faster version.\n\n```{language}\n{block}```\n\nIt uses a set."


def test_a_replaced_method_keeps_its_indentation_and_decorator() -> None:
    rewrite = parse_reply(reply(FAST_COUNT), SOURCE, "Box.count", PATH)
    assert rewrite.form == "function"
    assert "    @functools.lru_cache(maxsize=None)\n    def count(self, items" in rewrite.source
    assert "        allowed = set(WORDS)\n" in rewrite.source
    assert "def plain(x: int, y: int = 2) -> int:" in rewrite.source
    compile(rewrite.source, PATH, "exec")


def test_a_diff_is_applied_even_with_a_shifted_line_number() -> None:
    new = SOURCE.replace("    return x + y\n", "    return y + x\n")
    diff = make_diff(PATH, SOURCE, new).replace("@@ -14,", "@@ -11,")
    rewrite = parse_reply(reply(diff, "diff"), SOURCE, "plain", PATH)
    assert rewrite.form == "diff"
    assert rewrite.source == new


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Just use a set.", "no complete fenced code block"),
        (reply(FAST_COUNT) + reply(FAST_COUNT), "2 code blocks"),
        (reply("def count(self, items):\n    return 0\n"), "changes the signature"),
        (reply("def other(self, items: list[str]) -> int:\n    return 0\n"), "defines 'other'"),
        (reply("import os\n" + FAST_COUNT), r"adds an import \(import os\)"),
        (reply("def count(self, items: list[str]) -> int\n    return 0\n"), "does not parse"),
        (reply("console.log(1)\n", "javascript"), "neither python nor diff"),
        (reply("async " + FAST_COUNT), "changes the signature"),
        (reply("@staticmethod\n" + FAST_COUNT), "changes the decorators"),
    ],
)
def test_malformed_replies_are_refused_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(ReplyRejected, match=why):
        parse_reply(text, SOURCE, "Box.count", PATH)


def test_a_diff_of_another_file_is_refused() -> None:
    diff = make_diff("setup.py", "a = 1\n", "a = 2\n")
    with pytest.raises(ReplyRejected, match=r"not only src/pkg/mod\.py"):
        parse_reply(reply(diff, "diff"), SOURCE, "plain", PATH)


def test_a_diff_that_does_not_match_is_refused() -> None:
    diff = make_diff(PATH, "def plain():\n    pass\n", "def plain():\n    return 1\n")
    with pytest.raises(ReplyRejected, match="hunk 1 of the diff does not match"):
        parse_reply(reply(diff, "diff"), SOURCE, "plain", PATH)


def test_a_diff_that_changes_the_signature_is_refused() -> None:
    new = SOURCE.replace("def plain(x: int, y: int = 2)", "def plain(x: int, y: int = 3)")
    with pytest.raises(ReplyRejected, match="changes the signature"):
        parse_reply(reply(make_diff(PATH, SOURCE, new), "diff"), SOURCE, "plain", PATH)


def test_a_reply_that_changes_nothing_is_refused() -> None:
    same = "def plain(x: int, y: int = 2) -> int:\n    return x + y\n"
    with pytest.raises(ReplyRejected, match="changes nothing"):
        parse_reply(reply(same), SOURCE, "plain", PATH)
