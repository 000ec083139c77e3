"""list-comprehension: ``r = []`` plus an ``append`` loop becomes a comprehension, if safe."""

from __future__ import annotations

from libcst.codemod import Codemod

from methods.codemods.rules.list_comprehension import ListComprehension
from tests.codemods.support import RuleTest, assert_same_behaviour


class TestListComprehension(RuleTest):
    TRANSFORM: type[Codemod] = ListComprehension

    def test_plain_guarded_and_annotated(self) -> None:
        before = """
            def f(xs, pairs):
                squares = []
                for x in xs:
                    squares.append(x * x)
                # keep the big ones
                big: list[int] = list()
                for a, b in pairs:
                    if a > b:
                        big.append(a - b)
                return squares, big
        """
        after = """
            def f(xs, pairs):
                squares = [x * x for x in xs]
                # keep the big ones
                big: list[int] = [a - b for a, b in pairs if a > b]
                return squares, big
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_parenthesises_clauses_that_need_it(self) -> None:
        before = """
            def f(xs, ys, flag):
                out = []
                for x in xs if flag else ys:
                    if x if flag else not x:
                        out.append(lambda: 1)
                return out
        """
        after = """
            def f(xs, ys, flag):
                out = [lambda: 1 for x in (xs if flag else ys) if (x if flag else not x)]
                return out
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_refuses_unsafe_loops(self) -> None:
        before = """
            def reads_acc(xs):
                r = []
                for x in xs:
                    r.append(len(r))
                return r

            def acc_in_iter(xs):
                r = []
                for x in r or xs:
                    r.append(x)
                return r

            def other_call(xs):
                r = []
                for x in xs:
                    r.extend(x)
                return r

            def keyword_arg(xs):
                r = []
                for x in xs:
                    r.append(item=x)
                return r

            def starred_arg(xs):
                r = []
                for x in xs:
                    r.append(*x)
                return r

            def loop_var_after(xs):
                r = []
                for x in xs:
                    r.append(x)
                return r, x

            def with_else(xs):
                r = []
                for x in xs:
                    r.append(x)
                else:
                    print("done")
                return r

            def extra_statement(xs):
                r = []
                for x in xs:
                    r.append(x)
                    print(x)
                return r

            def not_empty(xs):
                r = [0]
                for x in xs:
                    r.append(x)
                return r

            def closure(xs):
                r = []
                size = lambda: len(r)
                for x in xs:
                    r.append(size())
                return r

            def attribute_target(xs, obj):
                r = []
                for obj.x in xs:
                    r.append(obj.x)
                return r
        """
        self.assertUnchanged(
            before,
            "reads_acc",
            "acc_in_iter",
            "other_call",
            "keyword_arg",
            "starred_arg",
            "loop_var_after",
            "with_else",
            "extra_statement",
            "not_empty",
            "closure",
            "attribute_target",
        )

    def test_a_loop_variable_reused_by_other_loops_is_fine(self) -> None:
        before = """
            def f(rows):
                for x in rows:
                    print(x)
                r = []
                for x in rows:
                    r.append(x)
                for x in r:
                    print(x)
                return r
        """
        after = """
            def f(rows):
                for x in rows:
                    print(x)
                r = [x for x in rows]
                for x in r:
                    print(x)
                return r
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_refuses_a_loop_variable_read_where_the_loop_could_leave_it(self) -> None:
        before = """
            def read_after_other_loop(rows):
                r = []
                for x in rows:
                    r.append(x)
                for x in rows[:0]:
                    pass
                return r, x

            def read_in_enclosing_loop(rows):
                for x in rows:
                    r = []
                    for x in x:
                        r.append(x)
                    print(x)
        """
        self.assertUnchanged(before, "read_after_other_loop", "read_in_enclosing_loop")

    def test_refuses_comments_and_frame_inspection(self) -> None:
        before = """
            def commented(xs):
                r = []
                for x in xs:
                    # keep this note
                    r.append(x)
                return r

            def uses_locals(xs):
                r = []
                for x in xs:
                    r.append(x)
                return locals()
        """
        self.assertUnchanged(before, "commented", "uses_locals")

    def test_refuses_a_shadowed_list(self) -> None:
        before = """
            def f(xs):
                list = lambda: [0]
                r = list()
                for x in xs:
                    r.append(x)
                return r
        """
        self.assertCodemod(before, before, target_qualname="f")

    def test_only_the_target_function_changes(self) -> None:
        before = """
            def f(xs):
                r = []
                for x in xs:
                    r.append(x)
                return r

            def g(xs):
                r = []
                for x in xs:
                    r.append(x)
                return r
        """
        after = """
            def f(xs):
                r = []
                for x in xs:
                    r.append(x)
                return r

            def g(xs):
                r = [x for x in xs]
                return r
        """
        self.assertCodemod(before, after, target_qualname="g")

    def test_behaviour_is_unchanged(self) -> None:
        source = """
            def evens_squared(xs, limit):
                out = []
                for i, x in enumerate(xs):
                    if x % 2 == 0 and i < limit:
                        out.append((i, x * x))
                return out
        """
        inputs = [([], 3), ([1, 2, 3, 4, 6], 3), ([2, 4, 6, 8], 10), ([1, "a"], 5), (None, 1)]
        after = assert_same_behaviour(ListComprehension, source, "evens_squared", inputs)
        self.assertIn("out = [", after)
