"""hoist-constant: a read-only container of constants is built once, anything else is left."""

from __future__ import annotations

from libcst.codemod import Codemod

from methods.codemods.rules.hoist_constant import HoistConstant
from tests.codemods.support import RuleTest, assert_same_behaviour


class TestHoistConstant(RuleTest):
    TRANSFORM: type[Codemod] = HoistConstant

    def test_a_lookup_table_moves_to_module_level(self) -> None:
        before = """
            \"\"\"Types.\"\"\"

            import os


            def more_generic(type1, type2):
                types = {type(None): 0, bool: 1, int: 2, str: (5, -1)}
                names: list[str] = ["a", "b" "c"]
                rank = max(types.get(type1, 5), types.get(type2, 5))
                return rank in {0, 1} or type1 in types, len(names), sorted(names)[0]
        """
        after = """
            \"\"\"Types.\"\"\"

            import os

            _MORE_GENERIC_TYPES = {type(None): 0, bool: 1, int: 2, str: (5, -1)}
            _MORE_GENERIC_NAMES = ["a", "b" "c"]


            def more_generic(type1, type2):
                types = _MORE_GENERIC_TYPES
                names: list[str] = _MORE_GENERIC_NAMES
                rank = max(types.get(type1, 5), types.get(type2, 5))
                return rank in {0, 1} or type1 in types, len(names), sorted(names)[0]
        """
        self.assertCodemod(before, after, target_qualname="more_generic")

    def test_refuses_a_container_that_escapes_changes_or_is_not_constant(self) -> None:
        before = """
            def returned():
                table = {"a": 1}
                return table

            def mutated(k):
                table = {"a": 1}
                table[k] = 2
                return table.get(k)

            def appended(x):
                seen = [1, 2]
                seen.append(x)
                return len(seen)

            def passed_on(f):
                table = {"a": 1}
                return f(table)

            def aliased():
                table = [1, 2]
                other = table
                return len(other)

            def nested_mutable(k):
                table = {"a": [1]}
                return table[k]

            def variable(x):
                table = {"a": x}
                return table["a"]

            def reassigned(flag):
                table = [1]
                if flag:
                    table = [2]
                return len(table)

            def shadowed_builtin(x):
                table = {int: 1}
                return table.get(x)

            def formatted(x):
                table = [f"{x}"]
                return len(table)

            def left_of_in(x):
                table = {1, 2}
                return table in x

            def frame():
                table = [1]
                return len(table), locals()

            def int(x):
                return x
        """
        self.assertUnchanged(
            before,
            "returned",
            "mutated",
            "appended",
            "passed_on",
            "aliased",
            "nested_mutable",
            "variable",
            "reassigned",
            "formatted",
            "left_of_in",
            "frame",
        )
        self.assertCodemod(before, before, target_qualname="shadowed_builtin")

    def test_a_method_behaves_the_same(self) -> None:
        source = """
            class Table:
                def width(self, cell):
                    widths = {bool: 5, int: 2, float: 3, type(None): 0}
                    known = [1, 2.5, "x"]
                    for value in known:
                        if value == cell:
                            return -1
                    return widths.get(type(cell), len(str(cell))) + (cell in known)

            def width(cell):
                return Table().width(cell)
        """
        inputs = [(True,), (3,), (2.5,), (None,), ("x",), ("long text",), (1,), ([1],)]
        after = assert_same_behaviour(HoistConstant, source, "Table.width", inputs, "width")
        self.assertIn("widths = _WIDTH_WIDTHS", after)
        self.assertIn('_WIDTH_KNOWN = [1, 2.5, "x"]', after)
