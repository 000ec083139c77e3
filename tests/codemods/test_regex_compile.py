"""regex-compile: constant patterns are compiled once, flags and arguments kept exact."""

from __future__ import annotations

from libcst.codemod import Codemod

from methods.codemods.rules.regex_compile import RegexCompile
from tests.codemods.support import RuleTest, assert_same_behaviour


class TestRegexCompile(RuleTest):
    TRANSFORM: type[Codemod] = RegexCompile

    def test_patterns_move_to_module_level_with_their_flags(self) -> None:
        before = """
            \"\"\"Tokens.\"\"\"

            import re
            from typing import Any


            def tokens(s: str, t: str) -> Any:
                a = re.match(r"\\d+", s)
                b = re.sub("a+", "b", s, 1, re.I | re.M)
                c = re.findall("x", t, flags=re.IGNORECASE)
                d = re.split("[,;]", s, maxsplit=2)
                return a, b, c, d, re.match(r"\\d+", t)
        """
        after = """
            \"\"\"Tokens.\"\"\"

            import re
            from typing import Any

            _TOKENS_PATTERN = re.compile(r"\\d+")
            _TOKENS_PATTERN_2 = re.compile("a+", re.I | re.M)
            _TOKENS_PATTERN_3 = re.compile("x", re.IGNORECASE)
            _TOKENS_PATTERN_4 = re.compile("[,;]")


            def tokens(s: str, t: str) -> Any:
                a = _TOKENS_PATTERN.match(s)
                b = _TOKENS_PATTERN_2.sub("b", s, 1)
                c = _TOKENS_PATTERN_3.findall(t)
                d = _TOKENS_PATTERN_4.split(s, maxsplit=2)
                return a, b, c, d, _TOKENS_PATTERN.match(t)
        """
        self.assertCodemod(before, after, target_qualname="tokens")

    def test_adds_the_import_when_only_functions_were_imported(self) -> None:
        before = """
            import os
            from re import findall

            def words(s):
                return findall(r"\\w+", s)
        """
        after = """
            import os
            import re
            from re import findall

            _WORDS_PATTERN = re.compile(r"\\w+")

            def words(s):
                return _WORDS_PATTERN.findall(s)
        """
        self.assertCodemod(before, after, target_qualname="words")

    def test_refuses_what_it_cannot_prove_constant(self) -> None:
        before = """
            import re

            def dynamic(s, p, flags):
                a = re.match(p, s)
                b = re.match("a", s, flags)
                c = re.match(f"{p}+", s)
                d = re.match("(unclosed", s)
                e = re.match(*s)
                g = re.match(pattern="a", string=s)
                h = re.compile("a").match(s)
                return a, b, c, d, e, g, h

            def shadowed(s, re):
                return re.match("a", s)
        """
        self.assertUnchanged(before, "dynamic", "shadowed")

    def test_refuses_a_module_that_rebinds_re(self) -> None:
        before = """
            import re

            re = None

            def f(s):
                return re.match("a", s)
        """
        self.assertCodemod(before, before, target_qualname="f")

    def test_a_pattern_with_flags_behaves_the_same(self) -> None:
        source = """
            import re

            def fields(line):
                head = re.match("key", line, re.IGNORECASE)
                parts = re.split(r"\\s*,\\s*", line, 1)
                lines = re.findall("^x.*$", line, re.M | re.I)
                fixed = re.sub("[aeiou]", "_", line, 2, flags=re.I)
                return bool(head), parts, lines, fixed, bool(re.fullmatch(r"\\w+", line))
        """
        inputs = [("KEY, a, b",), ("key,x\nX1\nno",), ("Aeiou",), ("",), (b"bytes",), (None,)]
        after = assert_same_behaviour(RegexCompile, source, "fields", inputs)
        self.assertIn('re.compile("^x.*$", re.M | re.I)', after)
        self.assertIn('re.compile("[aeiou]", re.I)', after)
        self.assertIn("_FIELDS_PATTERN_2.split(line, 1)", after)


class TestRegexCompileAfterLateImports(RuleTest):
    TRANSFORM: type[Codemod] = RegexCompile

    def test_the_pattern_goes_after_an_import_that_follows_a_try_block(self) -> None:
        before = """
            from importlib.metadata import version

            try:
                __version__ = version("x")
            except Exception:
                __version__ = "0"

            import re


            def words(s):
                return re.findall(r"\\w+", s)
        """
        after = """
            from importlib.metadata import version

            try:
                __version__ = version("x")
            except Exception:
                __version__ = "0"

            import re

            _WORDS_PATTERN = re.compile(r"\\w+")


            def words(s):
                return _WORDS_PATTERN.findall(s)
        """
        self.assertCodemod(before, after, target_qualname="words")
