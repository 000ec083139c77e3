"""Strict reading of a model's reply: one replaced function or one diff of the target's file."""

from __future__ import annotations

import pytest
from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

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


# The shapes typical chat models reply in (issue 15, point 6): each one is usable.

USAGE = "Usage:\n\n```python\nbox = Box()\nprint(box.count(['a', 'z']))\n```\n"
PLAIN_FAST = "def plain(x: int, y: int = 2) -> int:\n    return y + x\n"


def test_a_python_block_followed_by_a_usage_example_block() -> None:
    rewrite = parse_reply(reply(FAST_COUNT) + USAGE, SOURCE, "Box.count", PATH)
    assert "        allowed = set(WORDS)\n" in rewrite.source
    assert "print(" not in rewrite.source


def test_of_several_blocks_only_one_may_define_the_target() -> None:
    with pytest.raises(ReplyRejected, match="2 code blocks of the reply define 'count'"):
        parse_reply(reply(FAST_COUNT) + reply(FAST_COUNT), SOURCE, "Box.count", PATH)
    with pytest.raises(ReplyRejected, match="none of the reply's 2 code blocks defines"):
        parse_reply(USAGE + USAGE, SOURCE, "Box.count", PATH)


def test_a_fence_indented_inside_a_list_item() -> None:
    indented = "".join(f"  {line}\n" if line else "\n" for line in PLAIN_FAST.splitlines())
    text = f"1. Swap the operands:\n\n  ```python\n{indented}  ```\n2. Done.\n"
    rewrite = parse_reply(text, SOURCE, "plain", PATH)
    assert rewrite.source == SOURCE.replace("return x + y", "return y + x")


def test_a_fence_indented_four_spaces_is_code_not_a_fence() -> None:
    text = "    ```python\n" + "".join(f"    {line}\n" for line in PLAIN_FAST.splitlines())
    with pytest.raises(ReplyRejected, match="no complete fenced code block"):
        parse_reply(text + "    ```\n", SOURCE, "plain", PATH)


def test_crlf_line_endings() -> None:
    text = reply(PLAIN_FAST).replace("\n", "\r\n")
    rewrite = parse_reply(text, SOURCE, "plain", PATH)
    assert rewrite.source == SOURCE.replace("return x + y", "return y + x")
    assert "\r" not in rewrite.source


def test_a_whole_module_reply_gives_only_the_target_def() -> None:
    module = SOURCE.replace(
        "        total = 0\n        for item in items:\n            if item in WORDS:\n"
        "                total += 1\n        return total\n",
        "        allowed = set(WORDS)\n        return sum(1 for i in items if i in allowed)\n",
    ).replace("return x + y", "return x - y")  # another change, which is not taken
    module += '\n\nif __name__ == "__main__":\n    print(Box().count(["a"]))\n'
    rewrite = parse_reply(reply(module), SOURCE, "Box.count", PATH)
    assert "        return sum(1 for i in items if i in allowed)\n" in rewrite.source
    assert "return x + y" in rewrite.source and "return x - y" not in rewrite.source
    assert rewrite.source.count("import functools") == 1
    assert "__main__" not in rewrite.source


def test_a_diff_with_a_project_relative_path() -> None:
    """The project sits in ``sub/``; the model names the file as the project sees it."""
    new = SOURCE.replace("return x + y", "return y + x")
    diff = make_diff(PATH, SOURCE, new)  # src/pkg/mod.py
    files = ("sub/src/pkg/mod.py", "sub/src/pkg/other.py", "setup.py")
    rewrite = parse_reply(reply(diff, "diff"), SOURCE, "plain", f"sub/{PATH}", files)
    assert rewrite.source == new
    with pytest.raises(ReplyRejected, match=r"not only sub/src/pkg/mod\.py"):
        ambiguous = (*files, "other/src/pkg/mod.py")
        parse_reply(reply(diff, "diff"), SOURCE, "plain", f"sub/{PATH}", ambiguous)


def test_a_diff_whose_hunk_counts_are_off_by_one() -> None:
    new = SOURCE.replace("return x + y", "return y + x")
    diff = make_diff(PATH, SOURCE, new)
    header = next(line for line in diff.splitlines() if line.startswith("@@"))
    (old_start, old_count), (new_start, new_count) = (
        part[1:].split(",") for part in header.split()[1:3]
    )
    wrong = f"@@ -{old_start},{int(old_count) + 1} +{new_start},{int(new_count) - 1} @@"
    with pytest.raises(UnidiffParseError):  # as it stands, the diff does not parse
        PatchSet(diff.replace(header, wrong))
    rewrite = parse_reply(reply(diff.replace(header, wrong), "diff"), SOURCE, "plain", PATH)
    assert rewrite.source == new


def test_a_module_level_constant_the_new_def_uses() -> None:
    fast = "_WORDS = frozenset(['a', 'b', 'c', 'd'])\n\n\n" + FAST_COUNT.replace(
        "    allowed = set(WORDS)\n", ""
    ).replace("in allowed", "in _WORDS")
    rewrite = parse_reply(reply(fast), SOURCE, "Box.count", PATH)
    assert "_WORDS = frozenset(['a', 'b', 'c', 'd'])\n\n\nclass Box:" in rewrite.source
    namespace: dict[str, object] = {}
    exec(compile(rewrite.source, PATH, "exec"), namespace)  # the module still runs


@pytest.mark.parametrize(
    ("constant", "why"),
    [
        ("_WORDS = frozenset(open('words.txt'))", "is not a literal value"),
        ("_WORDS = {'a', 'b'}\n_UNUSED = 3", "does not use _UNUSED"),
        ("print('loaded')", "holds more than the function"),
        ("def helper() -> None:\n    pass", "holds more than the function"),
    ],
)
def test_only_new_literal_constants_the_def_uses_are_allowed(constant: str, why: str) -> None:
    fast = FAST_COUNT.replace("    allowed = set(WORDS)\n", "").replace("in allowed", "in _WORDS")
    with pytest.raises(ReplyRejected, match=why):
        parse_reply(reply(f"{constant}\n\n\n{fast}"), SOURCE, "Box.count", PATH)
