"""string-join: ``s = ""`` plus a ``+=`` loop becomes one ``"".join``, only when safe."""

from __future__ import annotations

from libcst.codemod import Codemod

from methods.codemods.rules.string_join import StringJoin
from tests.codemods.support import RuleTest, assert_same_behaviour


class TestStringJoin(RuleTest):
    TRANSFORM: type[Codemod] = StringJoin

    def test_plain_and_guarded_loops(self) -> None:
        before = """
            def f(words, rows):
                out = ""
                for w in words:
                    out += w.upper()
                line = ''
                for a, b in rows:
                    if a > b:
                        line += f"{a}-{b};"
                text = ""
                for c in words: text += c
                return out, line, text
        """
        after = """
            def f(words, rows):
                out = "".join([w.upper() for w in words])
                line = ''.join([f"{a}-{b};" for a, b in rows if a > b])
                text = "".join([c for c in words])
                return out, line, text
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_the_refusal_cases_have_a_rewritable_twin(self) -> None:
        # Guards the refusal tests below: the same shape with fresh names is rewritten.
        before = """
            def ok(words):
                s = ""
                for w in words:
                    s += w
                return s
        """
        after = """
            def ok(words):
                s = "".join([w for w in words])
                return s
        """
        self.assertCodemod(before, after, target_qualname="ok")

    def test_refuses_when_the_accumulator_is_read_in_the_loop(self) -> None:
        before = """
            def in_expr(words):
                s = ""
                for w in words:
                    s += w + s
                return s

            def in_cond(words):
                s = ""
                for w in words:
                    if len(s) < 10:
                        s += w
                return s

            def in_iter(words):
                s = ""
                for w in s + "xyz":
                    s += w
                return s
        """
        self.assertUnchanged(before, "in_expr", "in_cond", "in_iter")

    def test_refuses_other_loop_shapes(self) -> None:
        before = """
            def with_else(words):
                s = ""
                for w in words:
                    s += w
                else:
                    pass
                return s

            def extra_statement(words):
                s = ""
                for w in words:
                    s += w
                    print(w)
                return s

            def with_break(words):
                s = ""
                for w in words:
                    if not w:
                        break
                    s += w
                return s

            def with_continue(words):
                s = ""
                for w in words:
                    if not w:
                        continue
                    s += w
                return s

            def if_else(words):
                s = ""
                for w in words:
                    if w:
                        s += w
                    else:
                        s += "-"
                return s

            def not_adjacent(words):
                s = ""
                print(s)
                for w in words:
                    s += w
                return s

            async def async_for(words):
                s = ""
                async for w in words:
                    s += w
                return s
        """
        self.assertUnchanged(
            before,
            "with_else",
            "extra_statement",
            "with_break",
            "with_continue",
            "if_else",
            "not_adjacent",
            "async_for",
        )

    def test_refuses_when_the_loop_variable_is_used_elsewhere(self) -> None:
        before = """
            def after(words):
                s = ""
                for w in words:
                    s += w
                return s, w

            def before_in_a_loop(rows):
                for row in rows:
                    print(w if row else None)
                    s = ""
                    for w in row:
                        s += w
                return s

            def deleted(words):
                s = ""
                for w in words:
                    s += w
                del w
                return s
        """
        self.assertUnchanged(before, "after", "before_in_a_loop", "deleted")

    def test_refuses_a_start_that_is_not_the_empty_str(self) -> None:
        before = """
            def prefix(words):
                s = ">"
                for w in words:
                    s += w
                return s

            def raw_bytes(words):
                s = b""
                for w in words:
                    s += w
                return s

            def two_targets(words):
                s = t = ""
                for w in words:
                    s += w
                return s, t
        """
        self.assertUnchanged(before, "prefix", "raw_bytes", "two_targets")

    def test_refuses_outer_names_and_frame_tricks(self) -> None:
        before = """
            def global_acc(words):
                global s
                s = ""
                for w in words:
                    s += w

            def nonlocal_acc(words):
                s = ""
                def inner():
                    nonlocal s
                    s = "changed"
                for w in words:
                    s += w
                return s

            def with_yield(words):
                s = ""
                for w in words:
                    s += (yield w)
                return s

            def with_walrus(words):
                s = ""
                for w in words:
                    s += (t := w)
                return s, t

            async def with_await(words):
                s = ""
                for w in words:
                    s += await w
                return s

            class Base:
                def with_super(self, words):
                    s = ""
                    for w in words:
                        s += super().name(w)
                    return s
        """
        self.assertUnchanged(
            before,
            "global_acc",
            "nonlocal_acc",
            "with_yield",
            "with_walrus",
            "with_await",
            "Base.with_super",
        )

    def test_refuses_where_a_half_built_value_can_be_seen(self) -> None:
        before = """
            def in_try(words):
                try:
                    s = ""
                    for w in words:
                        s += w
                except TypeError:
                    return s
                return s

            def closure(words):
                s = ""
                show = lambda: s
                for w in words:
                    s += w
                return s, show

            def in_class_body(words):
                class Holder:
                    s = ""
                    for w in words:
                        s += w
                return Holder
        """
        self.assertUnchanged(before, "in_try", "closure", "in_class_body")

    def test_with_open_is_fine_but_another_context_manager_is_not(self) -> None:
        before = """
            import contextlib

            def f(path):
                with open(path) as fh:
                    s = ""
                    for line in fh:
                        s += line.strip()
                with contextlib.suppress(ValueError):
                    t = ""
                    for ch in path:
                        t += ch
                return s
        """
        after = """
            import contextlib

            def f(path):
                with open(path) as fh:
                    s = "".join([line.strip() for line in fh])
                with contextlib.suppress(ValueError):
                    t = ""
                    for ch in path:
                        t += ch
                return s
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_only_the_target_function_changes(self) -> None:
        before = """
            def f(words):
                s = ""
                for w in words:
                    s += w
                return s

            def g(words):
                s = ""
                for w in words:
                    s += w
                return s
        """
        after = """
            def f(words):
                s = "".join([w for w in words])
                return s

            def g(words):
                s = ""
                for w in words:
                    s += w
                return s
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_behaviour_is_unchanged(self) -> None:
        source = """
            def render(items, skip):
                out = ""
                for key, value in items:
                    if key not in skip:
                        out += f"{key}={value};"
                return out
        """
        inputs = [
            ([], ()),
            ([("a", 1), ("b", 2)], ()),
            ([("a", 1), ("b", 2), ("c", 3)], ("b",)),
            ([("a", 1), 5], ()),
            (None, ()),
        ]
        after = assert_same_behaviour(StringJoin, source, "render", inputs)
        self.assertIn(".join(", after)
