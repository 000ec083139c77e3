"""redundant-list-copy: ``for x in list(seq)`` loses the copy only when nothing can mutate seq."""

from __future__ import annotations

from libcst.codemod import Codemod

from methods.codemods.rules.redundant_list_copy import RedundantListCopy
from tests.codemods.support import RuleTest, assert_same_behaviour


class TestRedundantListCopy(RuleTest):
    TRANSFORM: type[Codemod] = RedundantListCopy

    def test_known_fresh_sequences(self) -> None:
        before = """
            def f(rows, *args):
                names = sorted(rows)
                for name in list(names):
                    print(name)
                seen = {1, 2}
                if len(seen) > 1 and 1 in seen:
                    seen = set(rows)
                for item in list(seen):
                    print(item)
                for arg in list(args):
                    print(arg)
                return max(names)
        """
        after = """
            def f(rows, *args):
                names = sorted(rows)
                for name in names:
                    print(name)
                seen = {1, 2}
                if len(seen) > 1 and 1 in seen:
                    seen = set(rows)
                for item in seen:
                    print(item)
                for arg in args:
                    print(arg)
                return max(names)
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_annotated_parameters(self) -> None:
        before = """
            from typing import Tuple

            def f(pairs: Tuple[int, ...], items: list[int]):
                for p in list(pairs):
                    print(p)
                total = 0
                for i in list(items):
                    total += i
                return total
        """
        after = """
            from typing import Tuple

            def f(pairs: Tuple[int, ...], items: list[int]):
                for p in pairs:
                    print(p)
                total = 0
                for i in items:
                    total += i
                return total
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_refuses_a_list_parameter_when_the_body_may_reach_it(self) -> None:
        # The caller may hold the same list; any call in the body could mutate it.
        before = """
            def calls(items: list[int], sink):
                for i in list(items):
                    sink.remove(i)

            def stores(items: list[int], other):
                for i in list(items):
                    other[i] = 0

            def yields(items: set[int]):
                for i in list(items):
                    yield i
        """
        self.assertUnchanged(before, "calls", "stores", "yields")

    def test_refuses_when_the_loop_may_see_a_mutation(self) -> None:
        before = """
            def used_in_body(rows):
                xs = list(rows)
                for x in list(xs):
                    xs.remove(x)

            def aliased(rows):
                xs = list(rows)
                ys = xs
                for x in list(xs):
                    ys.append(x)

            def passed_on(rows, keep):
                xs = list(rows)
                keep(xs)
                for x in list(xs):
                    print(x)

            def returned(rows):
                xs = list(rows)
                for x in list(xs):
                    print(x)
                return xs

            def in_a_container(rows):
                xs = list(rows)
                box = [xs]
                for x in list(xs):
                    box[0].append(x)

            def bound_method(rows):
                xs = list(rows)
                add = xs.append
                for x in list(xs):
                    add(x)

            def closure(rows):
                xs = list(rows)
                grow = lambda: xs.append(1)
                for x in list(xs):
                    grow()

            def annotated_alias(rows):
                xs = list(rows)
                ys: list = xs
                for x in list(xs):
                    ys.append(x)

            def yielded(rows):
                xs = list(rows)
                yield xs
                for x in list(xs):
                    print(x)
        """
        names = (
            "used_in_body aliased passed_on returned in_a_container bound_method closure "
            "annotated_alias yielded"
        )
        self.assertUnchanged(before, *names.split())

    def test_refuses_unknown_or_shadowed_types(self) -> None:
        before = """
            import collections

            def no_annotation(items):
                for i in list(items):
                    print(i)

            def unknown_call(rows):
                xs = make(rows)
                for x in list(xs):
                    print(x)

            def augmented(rows):
                xs = [1]
                xs += rows
                for x in list(xs):
                    print(x)

            def deque(rows):
                xs = collections.deque(rows)
                for x in list(xs):
                    print(x)

            def shadowed(rows):
                list = sorted
                xs = [3, 1]
                for x in list(xs):
                    print(x)

            def global_name():
                global XS
                XS = [1, 2]
                for x in list(XS):
                    print(x)

            def star_kwargs(**items: list[int]):
                for i in list(items):
                    print(i)

            def optional(items: list[int] | None):
                for i in list(items):
                    print(i)
        """
        names = (
            "no_annotation unknown_call augmented deque shadowed global_name star_kwargs optional"
        )
        self.assertUnchanged(before, *names.split())

    def test_only_the_target_function_changes(self) -> None:
        before = """
            def f(rows):
                xs = list(rows)
                for x in list(xs):
                    print(x)

            def g(rows):
                xs = list(rows)
                for x in list(xs):
                    print(x)
        """
        after = """
            def f(rows):
                xs = list(rows)
                for x in xs:
                    print(x)

            def g(rows):
                xs = list(rows)
                for x in list(xs):
                    print(x)
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_behaviour_is_unchanged(self) -> None:
        source = """
            def spread(values, extra):
                pool = sorted(values)
                out = []
                for v in list(pool):
                    out.append(v * extra)
                    extra += 1
                return out, len(pool)
        """
        inputs = [([], 1), ([3, 1, 2], 2), ({5, 4}, 0), ("cab", 2), (None, 1), ([1, "a"], 1)]
        after = assert_same_behaviour(RedundantListCopy, source, "spread", inputs)
        self.assertIn("for v in pool:", after)
