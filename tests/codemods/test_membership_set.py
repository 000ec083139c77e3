"""membership-set: literal lists/tuples of constants become set displays, nothing else."""

from __future__ import annotations

from libcst.codemod import Codemod

from methods.codemods.rules.membership_set import MembershipSet
from tests.codemods.support import RuleTest, assert_same_behaviour


class TestMembershipSet(RuleTest):
    TRANSFORM: type[Codemod] = MembershipSet

    def test_list_and_tuple_become_sets(self) -> None:
        before = """
            def f(x, y):
                a = x in [1, 2, -3, 4.5]
                b = y not in ("GET", 'POST', "PUT", "DELETE")
                return a and 0 < x in [ 1, 2, 3, +4 ]
        """
        after = """
            def f(x, y):
                a = x in {1, 2, -3, 4.5}
                b = y not in {"GET", 'POST', "PUT", "DELETE"}
                return a and 0 < x in { 1, 2, 3, +4 }
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_repeated_values_are_dropped(self) -> None:
        before = """
            def f(x):
                return x in [1, 2, 1.0, 3, 4]
        """
        after = """
            def f(x):
                return x in {1, 2, 3, 4}
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_refuses_short_or_non_constant_literals(self) -> None:
        before = """
            def f(x, y):
                a = x in [1, 2, 3]
                b = x in [1, 2, 3, y]
                c = x in ["a", "b", "c", f"{y}"]
                d = x in [1, 2, 3, (4, 5)]
                e = x in [1, 2, 3, *y]
                g = x in [b"a", b"b", b"c", b"d"]
                h = x == [1, 2, 3, 4]
                return a, b, c, d, e, g, h
        """
        self.assertCodemod(before, before, target_qualname="f")

    def test_refuses_an_unhashable_left_operand(self) -> None:
        before = """
            def f(x):
                return [x] in [1, 2, 3, 4] or {x: 1} not in (1, 2, 3, 4) or (x, [x]) in [1, 2, 3, 4]
        """
        self.assertCodemod(before, before, target_qualname="f")

    def test_only_the_target_function_changes(self) -> None:
        before = """
            CODES = 200 in [200, 201, 202, 204]

            def f(x):
                return x in [1, 2, 3, 4]

            def g(x):
                return x in [1, 2, 3, 4]

            class C:
                def f(self, x):
                    return x in [1, 2, 3, 4]
        """
        after = """
            CODES = 200 in [200, 201, 202, 204]

            def f(x):
                return x in [1, 2, 3, 4]

            def g(x):
                return x in [1, 2, 3, 4]

            class C:
                def f(self, x):
                    return x in {1, 2, 3, 4}
        """
        self.assertCodemod(before, after, target_qualname="C.f")

    def test_a_class_of_the_same_name_is_not_the_target(self) -> None:
        before = """
            class f:
                CODES = 1 in [1, 2, 3, 4]

                def g(self, x):
                    return x in [1, 2, 3, 4]
        """
        self.assertCodemod(before, before, target_qualname="f")
        self.assertCodemod(before, before, target_qualname="f.CODES")

    def test_nested_functions_count_as_inside(self) -> None:
        before = """
            def f(xs):
                def keep(x):
                    return x not in (0, -1, 99, 100)
                return [x for x in xs if keep(x)]
        """
        after = """
            def f(xs):
                def keep(x):
                    return x not in {0, -1, 99, 100}
                return [x for x in xs if keep(x)]
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_behaviour_is_unchanged(self) -> None:
        source = """
            def classify(x):
                if x in [0, 1, -1, 2.5, "a"]:
                    return "small"
                if x not in ("x", "y", "z", 3):
                    return "other"
                return "letter"
        """
        inputs = [(0,), (1.0,), (-1,), (2.5,), ("a",), ("x",), (3,), (7,), (None,), (True,)]
        after = assert_same_behaviour(MembershipSet, source, "classify", inputs)
        self.assertIn("{0, 1, -1, 2.5", after)
