"""hoist-invariant: reads of locals a loop never changes move before it, and only those."""

from __future__ import annotations

from libcst.codemod import Codemod

from methods.codemods.rules.hoist_invariant import HoistInvariant
from tests.codemods.support import RuleTest, assert_same_behaviour


class TestHoistInvariant(RuleTest):
    TRANSFORM: type[Codemod] = HoistInvariant

    def test_methods_lengths_and_attributes_move_before_the_loop(self) -> None:
        before = """
            import math

            class Scaler:
                factor = 2

                def scaled(self, xs, ys: list[int]):
                    out: list[float] = []
                    seen: set[int] = set()
                    i = 0
                    # walk xs
                    while i < len(xs):
                        out.append(xs[i] * self.factor + len(ys))
                        seen.add(i)
                        i += 1
                    for y in ys:
                        for z in ys:
                            out.append(math.sqrt(y) * self.factor)
                    return out
        """
        after = """
            import math

            class Scaler:
                factor = 2

                def scaled(self, xs, ys: list[int]):
                    out: list[float] = []
                    seen: set[int] = set()
                    i = 0
                    # walk xs
                    xs_len = len(xs)
                    out_append = out.append
                    self_factor = self.factor
                    ys_len = len(ys)
                    seen_add = seen.add
                    while i < xs_len:
                        out_append(xs[i] * self_factor + ys_len)
                        seen_add(i)
                        i += 1
                    out_append = out.append
                    self_factor = self.factor
                    for y in ys:
                        for z in ys:
                            out_append(math.sqrt(y) * self_factor)
                    return out
        """
        self.assertCodemod(before, after, target_qualname="Scaler.scaled")

    def test_stops_at_the_loop_that_rebinds_the_name(self) -> None:
        before = """
            def rows(grid):
                for row in grid:
                    out = []
                    for cell in row:
                        out.append(cell)
                    print(out)
        """
        after = """
            def rows(grid):
                for row in grid:
                    out = []
                    out_append = out.append
                    for cell in row:
                        out_append(cell)
                    print(out)
        """
        self.assertCodemod(before, after, target_qualname="rows")

    def test_refuses_what_the_loop_may_change(self) -> None:
        before = """
            def unknown_type(out, xs):
                for x in xs:
                    out.append(x)

            def rebound(xs):
                out = []
                for x in xs:
                    out.append(x)
                    out = [x]
                return out

            def grows(xs):
                i = 0
                while i < len(xs):
                    xs.append(i)
                    i += 1

            def length_in_a_for_body(xs, n):
                for i in range(n):
                    print(len(xs))

            def smallest_in_a_for_body(xs: list[int], n):
                total = 0
                for i in range(n):
                    total += min(xs)  # raises on [] only if the loop runs
                return total

            class Stepper:
                step = 1

                def calls_other_code(self, xs):
                    total = 0
                    for x in xs:
                        total += self.step * x
                        self.tick()
                    return total

                def stores_the_attribute(self, xs):
                    for x in xs:
                        self.step = x + self.step

                def guarded(self, xs):
                    total = 0
                    for x in xs:
                        if x:
                            total += self.step
                    return total

            def maybe_unbound(xs, flag):
                if flag:
                    out = []
                for x in xs:
                    out.append(x)

            def in_a_lambda(self, xs):
                for x in xs:
                    xs = sorted(xs, key=lambda v: v * self.step)

            def private_names(self, xs):
                for x in xs:
                    print(self.__secret)
        """
        names = (
            "unknown_type rebound grows length_in_a_for_body smallest_in_a_for_body "
            "Stepper.calls_other_code "
            "Stepper.stores_the_attribute Stepper.guarded maybe_unbound in_a_lambda private_names"
        )
        self.assertUnchanged(before, *names.split())

    def test_leaves_item_types_for_the_type_checker_to_infer(self) -> None:
        before = """
            def typed(xs: list[int]) -> list[int]:
                out = []
                for x in xs:
                    out.append(x)
                return out

            def annotated(xs: list[int]) -> list[int]:
                out: list[int] = []
                for x in xs:
                    out.append(x)
                return out
        """
        self.assertUnchanged(before, "typed")
        module = self.make_fixture_data(before)
        changed = module.replace(
            "out: list[int] = []\n    for x in xs:\n        out.append(x)",
            "out: list[int] = []\n    out_append = out.append\n"
            "    for x in xs:\n        out_append(x)",
        )
        self.assertCodemod(module, changed, target_qualname="annotated")

    def test_other_builtins_move_out_of_a_while_test(self) -> None:
        before = """
            def below(xs, limit):
                i = 0
                while max(xs) > limit + i and i < abs(limit):
                    i += 1
                return i
        """
        after = """
            def below(xs, limit):
                i = 0
                xs_max = max(xs)
                while xs_max > limit + i and i < abs(limit):
                    i += 1
                return i
        """
        self.assertCodemod(before, after, target_qualname="below")  # abs is short-circuited

    def test_refuses_functions_that_inspect_their_locals(self) -> None:
        before = """
            def f(xs):
                out = []
                for x in xs:
                    out.append(x)
                return locals()
        """
        self.assertCodemod(before, before, target_qualname="f")

    def test_behaviour_is_unchanged(self) -> None:
        source = """
            class Box:
                unit = "m"

                def __init__(self, factor):
                    self.factor = factor

                def scaled(self, xs):
                    out = []
                    i = 0
                    while i < len(xs):
                        out.append((xs[i] * self.factor, self.unit))
                        i += 1
                    return out

            def run(factor, xs):
                return Box(factor).scaled(xs)
        """
        inputs = [(2, [1, 2, 3]), (1.5, ()), (3, "ab"), (2, None), ("x", [1]), (2, {0: 1, 1: 2})]
        after = assert_same_behaviour(HoistInvariant, source, "Box.scaled", inputs, call="run")
        self.assertIn("out_append = out.append", after)
        self.assertIn("xs_len = len(xs)", after)
        self.assertIn("self_factor = self.factor", after)
        self.assertIn("self_unit = self.unit", after)

    def test_refuses_attributes_that_may_be_missing(self) -> None:
        before = """
            def plain(box, xs):
                total = 0
                for x in xs:
                    total += box.real
                return total

            class Lazy:
                def __init__(self, ready):
                    if ready:
                        self.factor = 2

                def scaled(self, xs):
                    total = 0
                    for x in xs:
                        total += self.factor
                    return total
        """
        self.assertUnchanged(before, "plain", "Lazy.scaled")
