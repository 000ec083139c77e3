"""A small project with three hot functions the codemods improve, and its tests.

Plumbing tests (interrupts, cleanup) and benchmarks/interrupt_stress.py run on it: a
whole dry run takes seconds, not the minute or two the bundled example takes.
"""

from __future__ import annotations

MODULE = """\
def is_vowel(c):
    return c in ["a", "e", "i", "o", "u", "A", "E", "I", "O", "U"]


def vowels(words):
    out = []
    for w in words:
        out.append(sum(1 for c in w if is_vowel(c)))
    return out


def joined(words):
    s = ""
    for w in words:
        s += w.upper()
    return s
"""
TESTS = """\
from small import is_vowel, joined, vowels

WORDS = ["stress", "signal", "interrupt", "queue", "rhythm"] * 40


def test_vowels():
    assert vowels(WORDS)[:5] == [1, 2, 3, 4, 0]
    assert is_vowel("E") and not is_vowel("z")


def test_joined():
    assert joined(WORDS).startswith("STRESSSIGNAL")
"""
FILES = {
    "small.py": MODULE,
    "tests/test_small.py": TESTS,
    "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['.']\n",
}
