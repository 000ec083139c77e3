"""The comment grammar, on comment bodies shaped like the ones GitHub delivers."""

from __future__ import annotations

import pytest

from bot.github.commands import HELP, METHOD_NAMES, Command, Malformed, parse_comment

REVIEW_REPLY = (
    "> Could the bot look at the tokenizer? It is the slowest part.\r\n"
    "> /improve src/textstats/tokenize.py\r\n"
    "\r\n"
    "Sure, let's try:\r\n"
    "\r\n"
    "/improve src/textstats/tokenize.py:split_words --method adversarial --budget 5\r\n"
)

TUTORIAL = """\
Thanks for the PR! You can ask the bot for a run like this:

```sh
/improve src/pkg/mod.py --dry-run
```

~~~
/improve help
~~~

Nothing to do here yet.
"""

TEMPLATE = """\
<!--
  To ask for a run, write on its own line:
  /improve src/pkg/mod.py
-->
## What changed
Faster parsing. <!-- /improve status -->
"""


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/improve", Command(kind="improve", line="/improve")),
        ("/improve\r\n", Command(kind="improve", line="/improve")),
        ("/improve help", Command(kind="help", line="/improve help")),
        ("/improve status", Command(kind="status", line="/improve status")),
        (
            "LGTM, but first:\n\n  /improve src/pkg/mod.py --dry-run\n\nthanks",
            Command(
                kind="improve",
                paths=("src/pkg/mod.py",),
                dry_run=True,
                line="/improve src/pkg/mod.py --dry-run",
            ),
        ),
        (
            REVIEW_REPLY,
            Command(
                kind="improve",
                paths=("src/textstats/tokenize.py:split_words",),
                method="adversarial",
                budget=5,
                line="/improve src/textstats/tokenize.py:split_words --method adversarial "
                "--budget 5",
            ),
        ),
        (
            "/improve --method=chaos --budget=12 src/pkg src/other/ lib/a.py:Class.meth",
            Command(
                kind="improve",
                paths=("src/pkg", "src/other/", "lib/a.py:Class.meth"),
                method="chaos",
                budget=12,
                line="/improve --method=chaos --budget=12 src/pkg src/other/ lib/a.py:Class.meth",
            ),
        ),
        (
            "\t/improve 'src/my pkg/mod.py' --method auto",
            Command(
                kind="improve",
                paths=("src/my pkg/mod.py",),
                method="auto",
                line="/improve 'src/my pkg/mod.py' --method auto",
            ),
        ),
        (
            "```\n/improve src/a.py\n```\n/improve status\n/improve help",
            Command(kind="status", line="/improve status"),
        ),
        (
            TUTORIAL + "\n/improve src/pkg/mod.py",
            Command(kind="improve", paths=("src/pkg/mod.py",), line="/improve src/pkg/mod.py"),
        ),
    ],
)
def test_commands_are_read(body: str, expected: Command) -> None:
    assert parse_comment(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "",
        "Looks good to me :shipit:",
        "/improvement is what we need",
        "/improve-all",
        "/improves src/a.py",
        "x /improve src/a.py",
        "Please run `/improve src/a.py` when you can",
        "- /improve src/a.py",
        "/IMPROVE src/a.py",
        "> /improve src/a.py",
        ">> /improve src/a.py",
        "  > /improve src/a.py\r\n",
        TUTORIAL,
        TEMPLATE,
        "```python\n# an unclosed fence swallows the rest\n/improve src/a.py\n",
        "````md\n```\n/improve src/a.py\n```\nstill inside the outer fence\n````",
        "- a list item:\n    ```\n    /improve src/a.py\n    ```\n",
    ],
)
def test_comments_without_a_command_are_ignored(body: str) -> None:
    assert parse_comment(body) is None


def test_only_the_first_command_counts() -> None:
    body = "/improve --budget 0\n/improve src/a.py"
    result = parse_comment(body)
    assert isinstance(result, Malformed)
    assert result.line == "/improve --budget 0"
    assert parse_comment("/improve status\r\n/improve --bogus") == Command(
        kind="status", line="/improve status"
    )


def test_a_fence_closes_only_with_its_own_kind() -> None:
    body = "~~~\n```\n/improve src/a.py\n~~~\n/improve src/b.py"
    assert parse_comment(body) == Command(
        kind="improve", paths=("src/b.py",), line="/improve src/b.py"
    )


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("/improve --fast", "unknown option `--fast`"),
        ("/improve --dry-run=yes", "unknown option `--dry-run=yes`"),
        ("/improve --dry-run --dry-run", "`--dry-run` is given twice"),
        ("/improve --method quantum", "unknown method `quantum`"),
        ("/improve --method", "`--method` needs a value"),
        ("/improve --method --dry-run", "`--method` needs a value"),
        ("/improve --method chaos --method auto", "`--method` is given twice"),
        ("/improve --budget 0", "positive whole number, not `0`"),
        ("/improve --budget -3", "positive whole number, not `-3`"),
        ("/improve --budget 2.5", "positive whole number, not `2.5`"),
        ("/improve --budget ten", "positive whole number, not `ten`"),
        ("/improve --budget=", "`--budget` needs a value"),
        ("/improve /etc/passwd.py", "`/etc/passwd.py` is absolute"),
        ("/improve ~/x.py", "is absolute"),
        ("/improve C:/src/x.py", "is absolute"),
        ("/improve ../secrets.py", "leaves the repository"),
        ("/improve src/../../x.py", "leaves the repository"),
        ("/improve README.md", "`README.md` is neither a .py file nor a folder"),
        ("/improve src/pkg:func", "only a .py file can name a function"),
        ("/improve src/a.py:", "only a .py file can name a function"),
        ("/improve src/a.py:1bad", "only a .py file can name a function"),
        ("/improve src/*.py", "is not a plain repository path"),
        ("/improve src/a.py please?", "`please?` is not a plain repository path"),
        ("/improve src\\pkg\\mod.py", "paths are written with `/`"),
        ("/improve C:\\src\\x.py", "paths are written with `/`"),
        ("/improve 'src/a.py\\'", "paths are written with `/`"),
        ("/improve 'src/a.py", "could not be split into words (No closing quotation)"),
        ("/improve help me", "`/improve help` takes nothing after it, not `me`"),
        ("/improve status now", "`/improve status` takes nothing after it"),
    ],
)
def test_malformed_commands_get_a_reply_with_help(line: str, problem: str) -> None:
    result = parse_comment(f"Hi bot,\r\n\r\n{line}\r\n")
    assert isinstance(result, Malformed)
    assert result.line == line
    assert problem in result.problem
    assert result.problem in result.reply
    assert line in result.reply
    assert result.reply.endswith(HELP)


def test_a_reply_cannot_be_broken_out_of_or_mention_anyone() -> None:
    result = parse_comment("/improve ```@octocat``` --x")
    assert isinstance(result, Malformed)
    fence = "````"
    assert f"{fence}\n/improve ```@octocat``` --x\n{fence}" in result.reply
    long = parse_comment("/improve --budget " + "9" * 500)
    assert isinstance(long, Malformed)
    assert len(long.reply) < len(HELP) + 600


def test_help_names_every_method() -> None:
    assert all(f"`{method}`" in HELP for method in METHOD_NAMES)
