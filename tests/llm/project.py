"""A small project where a model's rewrite is a large, clear speed-up, and its model replies.

``count_allowed`` checks each word against a 400-item list; the rewrite uses a set, tens of
times faster on the recorded calls, so the performance gate passes even on a loaded machine.
``is_vowel`` is what the offline generator can improve (ruff's ``literal-membership``) when
no model answers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.core.baseline import Baseline
from bot.core.candidate import Target
from tests.conftest import commit_files, run_cli

HOT = "src/pkg/hot.py"
FILES = {
    "pyproject.toml": (
        '[tool.pytest.ini_options]\npythonpath = ["src"]\n\n'
        "[tool.selfimprove.thresholds]\nrounds = 8\n"  # the gain is ~100x: few rounds suffice
    ),
    "src/pkg/__init__.py": "",
    HOT: '''"""Word filters."""

ALLOWED = [f"w{i}" for i in range(400)]


def count_allowed(words: list[str]) -> int:
    """How many of ``words`` are allowed."""
    total = 0
    for word in words:
        if word in ALLOWED:
            total += 1
    return total


def is_vowel(letter: str) -> bool:
    """True for a lower-case vowel."""
    return letter in ["a", "e", "i", "o", "u"]
''',
    "tests/test_hot.py": """from pkg.hot import count_allowed, is_vowel


def test_count_allowed() -> None:
    for n in range(20):
        words = [f"w{i}" for i in range(n * 40, n * 40 + 600, 3)]
        assert count_allowed(words) == sum(1 for i in range(n * 40, n * 40 + 600, 3) if i < 400)


def test_is_vowel() -> None:
    assert [c for c in "selfimprove" if is_vowel(c)] == ["e", "i", "o", "e"]
""",
}
COUNT = Target(file=HOT, module="pkg.hot", qualname="count_allowed", calls=20)
VOWEL = Target(file=HOT, module="pkg.hot", qualname="is_vowel", calls=11)

FAST_COUNT = '''I replaced the list lookups with one set.

```python
def count_allowed(words: list[str]) -> int:
    """How many of ``words`` are allowed."""
    allowed = set(ALLOWED)
    total = 0
    for word in words:
        if word in allowed:
            total += 1
    return total
```
'''
MALFORMED = "You could make it faster by using a set instead of a list."


def bare_baseline(root: Path, *targets: Target) -> Baseline:
    """The facts a generator reads (the base files), without running the suite."""
    return Baseline(
        root=root,
        work_dir=root.parent,
        test_outcomes={},
        import_roots=("src",),
        targets=targets,
        captured_calls={t.key: 1 for t in targets},
    )


FAST_VOWEL = '''A frozenset lookup is faster than scanning a list:

```python
_VOWELS = frozenset("aeiou")


def is_vowel(letter: str) -> bool:
    """True for a lower-case vowel."""
    return letter in _VOWELS
```
'''


def new_project(tmp: Path) -> Path:
    """The project committed in a fresh repository under ``tmp``."""
    project = tmp / "repo"
    project.mkdir()
    commit_files(project, FILES)
    return project


def selfimprove(
    project: Path, home: Path, out: Path, chain: str, env: dict[str, str]
) -> tuple[dict[str, Any], str]:
    """``selfimprove run --dry-run --json`` on ``count_allowed`` with ``chain``, as a real
    subprocess: its JSON report and what it printed on stderr."""
    done = run_cli(
        "run",
        "--dry-run",
        str(project),
        "--json",
        "--out",
        str(out),
        "--llm",
        chain,
        "--target",
        "src/pkg/hot.py:count_allowed",
        cwd=project,
        home=home,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report, done.stdout + done.stderr
