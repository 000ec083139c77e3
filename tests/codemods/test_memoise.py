"""memoise: a cache decorator only with the capture's verdict, and only on plain functions."""

from __future__ import annotations

from libcst.codemod import Codemod, CodemodContext

from methods.codemods.rules.memoise import MEMO, Memo, Memoise
from tests.codemods.support import RuleTest

PURE = CodemodContext(scratch={MEMO: Memo(calls=40, distinct=5, entry_bytes=200)})


class TestMemoise(RuleTest):
    TRANSFORM: type[Codemod] = Memoise

    def test_decorates_with_a_bounded_typed_cache(self) -> None:
        before = """
            \"\"\"Geometry.\"\"\"

            import math


            def area(r):
                return math.pi * r * r
        """
        after = """
            \"\"\"Geometry.\"\"\"

            import functools
            import math


            @functools.lru_cache(maxsize=1024, typed=True)
            def area(r):
                return math.pi * r * r
        """
        self.assertCodemod(before, after, target_qualname="area", context_override=PURE)

    def test_nothing_without_the_captured_verdict(self) -> None:
        before = """
            def area(r):
                return 3 * r * r
        """
        self.assertCodemod(before, before, target_qualname="area")

    def test_refuses_functions_the_capture_cannot_vouch_for(self) -> None:
        before = """
            import functools
            import random
            import time

            COUNT = 0

            def prints(x):
                print(x)
                return x

            def clock(x):
                return x + time.time()

            def dice(x):
                return x + random.random()

            def counts(x):
                global COUNT
                COUNT += 1
                return x

            def generator(x):
                yield x

            async def coroutine(x):
                return x

            @functools.wraps(len)
            def decorated(x):
                return x

            def inspects(x):
                return locals()

            class Shape:
                def area(self, r):
                    return r * r

            def outer(x):
                def inner(y):
                    return y
                return inner(x)
        """
        names = "prints clock dice counts generator coroutine decorated inspects"
        module = self.make_fixture_data(before)
        for name in [*names.split(), "Shape.area", "outer.inner"]:
            with self.subTest(name):
                self.assertCodemod(module, module, target_qualname=name, context_override=PURE)

    def test_refuses_a_module_where_functools_means_something_else(self) -> None:
        before = """
            functools = None

            def area(r):
                return r * r
        """
        self.assertCodemod(before, before, target_qualname="area", context_override=PURE)

    def test_the_description_names_the_memory_cost(self) -> None:
        text = Memoise.describe({MEMO: Memo(calls=40, distinct=5, entry_bytes=200)})
        assert "35 of its 40 captured calls repeat" in text
        assert "at most 1024 entries of about 200 bytes (~200 KiB)" in text
        assert Memoise.describe({}) == Memoise.DESCRIPTION
