"""dict-comprehension: ``d = {}`` plus a ``d[k] = v`` loop becomes a comprehension, if safe."""

from __future__ import annotations

from libcst.codemod import Codemod

from methods.codemods.rules.dict_comprehension import DictComprehension
from tests.codemods.support import RuleTest, assert_same_behaviour


class TestDictComprehension(RuleTest):
    TRANSFORM: type[Codemod] = DictComprehension

    def test_literal_constructor_and_guard(self) -> None:
        before = """
            def f(rows, names):
                by_id = {}
                for row in rows:
                    by_id[row.id] = row
                index = dict()
                for i, name in enumerate(names):
                    if name:
                        index[name] = i, len(name)
                return by_id, index
        """
        after = """
            def f(rows, names):
                by_id = {row.id: row for row in rows}
                index = {name: (i, len(name)) for i, name in enumerate(names) if name}
                return by_id, index
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_blank_lines_between_go_and_comments_stay(self) -> None:
        before = """
            def f(rows):
                d = {}

                # index rows
                for row in rows:
                    d[row] = 1
                return d
        """
        after = """
            def f(rows):
                # index rows
                d = {row: 1 for row in rows}
                return d
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_refuses_keys_with_calls_and_other_unsafe_loops(self) -> None:
        before = """
            def key_call(rows):
                d = {}
                for row in rows:
                    d[key(row)] = row
                return d

            def reads_acc(rows):
                d = {}
                for row in rows:
                    d[row] = len(d)
                return d

            def two_keys(rows):
                d = {}
                for a, b in rows:
                    d[a, b] = 1
                return d

            def slice_store(rows):
                d = {}
                for row in rows:
                    d[1:2] = row
                return d

            def loop_var_after(rows):
                d = {}
                for row in rows:
                    d[row] = 1
                return d, row

            def not_empty(rows):
                d = {"a": 1}
                for row in rows:
                    d[row] = 1
                return d

            def nested_store(rows):
                d = {}
                for row in rows:
                    d[row][0] = 1
                return d
        """
        self.assertUnchanged(
            before,
            "key_call",
            "reads_acc",
            "two_keys",
            "slice_store",
            "loop_var_after",
            "not_empty",
            "nested_store",
        )

    def test_refuses_a_shadowed_dict(self) -> None:
        before = """
            from collections import OrderedDict as dict

            def f(rows):
                d = dict()
                for row in rows:
                    d[row] = 1
                return d
        """
        self.assertCodemod(before, before, target_qualname="f")

    def test_only_the_target_function_changes(self) -> None:
        before = """
            class Index:
                def build(self, rows):
                    d = {}
                    for row in rows:
                        d[row] = 1
                    return d

            def build(rows):
                d = {}
                for row in rows:
                    d[row] = 1
                return d
        """
        after = """
            class Index:
                def build(self, rows):
                    d = {row: 1 for row in rows}
                    return d

            def build(rows):
                d = {}
                for row in rows:
                    d[row] = 1
                return d
        """
        self.assertCodemod(before, after, target_qualname="Index.build")

    def test_behaviour_is_unchanged(self) -> None:
        source = """
            def invert(mapping, skip):
                out = {}
                for key, value in mapping.items():
                    if value not in skip:
                        out[value] = key
                return out
        """
        inputs = [
            ({}, ()),
            ({"a": 1, "b": 2, "c": 1}, ()),
            ({"a": 1, "b": 2}, (2,)),
            ({"a": [1]}, ()),
            (None, ()),
        ]
        after = assert_same_behaviour(DictComprehension, source, "invert", inputs)
        self.assertIn("out = {value: key for", after)
