"""dict-keys-iteration and dict-values-iteration: drop the unused half of ``d.items()``."""

from __future__ import annotations

from libcst.codemod import Codemod

from methods.codemods.rules.dict_keys_iteration import DictKeysIteration
from methods.codemods.rules.dict_values_iteration import DictValuesIteration
from tests.codemods.support import RuleTest, assert_same_behaviour

REFUSED = """
    def unknown(d):
        for k, _ in d.items():
            print(k)
        for _, v in d.items():
            print(v)

    def throwaway_read(rows):
        d = dict(rows)
        for k, _ in d.items():
            print(k, _)
        for _, v in d.items():
            print(v, _)

    def read_later(rows):
        d = {}
        for k, _ in d.items():
            print(k)
        for _, v in d.items():
            print(v)
        return _

    def deleted(rows):
        d = {}
        for k, _ in d.items():
            print(k)
        for _, v in d.items():
            print(v)
        del _

    def not_underscore(rows):
        d = {}
        for k, unused in d.items():
            print(k)
        for unused, v in d.items():
            print(v)

    def reassigned(rows):
        d = {}
        d = rows
        for k, _ in d.items():
            print(k)
        for _, v in d.items():
            print(v)

    def shadowed_dict(rows):
        dict = type(rows)
        d = dict()
        for k, _ in d.items():
            print(k)
        for _, v in d.items():
            print(v)

    def star_args(*d: dict):
        for k, _ in d.items():
            print(k)
        for _, v in d.items():
            print(v)

    def with_arguments(rows):
        d = {}
        for k, _ in d.items(1):
            print(k)
        for _, v in d.items(1):
            print(v)
"""
REFUSED_NAMES = (
    "unknown",
    "throwaway_read",
    "read_later",
    "deleted",
    "not_underscore",
    "reassigned",
    "shadowed_dict",
    "star_args",
    "with_arguments",
)


class TestDictKeysIteration(RuleTest):
    TRANSFORM: type[Codemod] = DictKeysIteration

    def test_known_dicts(self) -> None:
        before = """
            from collections import defaultdict
            from typing import Dict

            def f(scores: Dict[str, int], rows, **options):
                counts = defaultdict(int)
                for name, _ in scores.items():
                    counts[name] += 1
                for (k, _) in counts.items():
                    print(k)
                for key, _ in options.items():
                    print(key)
                for _ in range(3):
                    pass
                return counts
        """
        after = """
            from collections import defaultdict
            from typing import Dict

            def f(scores: Dict[str, int], rows, **options):
                counts = defaultdict(int)
                for name in scores:
                    counts[name] += 1
                for k in counts:
                    print(k)
                for key in options:
                    print(key)
                for _ in range(3):
                    pass
                return counts
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_refusals(self) -> None:
        self.assertUnchanged(REFUSED, *REFUSED_NAMES)

    def test_only_the_target_function_changes(self) -> None:
        before = """
            class A:
                def keys(self, d: dict):
                    for k, _ in d.items():
                        print(k)

            def keys(d: dict):
                for k, _ in d.items():
                    print(k)
        """
        after = """
            class A:
                def keys(self, d: dict):
                    for k, _ in d.items():
                        print(k)

            def keys(d: dict):
                for k in d:
                    print(k)
        """
        self.assertCodemod(before, after, target_qualname="keys")

    def test_behaviour_is_unchanged(self) -> None:
        source = """
            def long_keys(pairs, size):
                table = dict(pairs)
                out = []
                for key, _ in table.items():
                    if len(key) >= size:
                        out.append(key)
                return out
        """
        inputs = [([], 1), ([("ab", 1), ("abc", 2), ("a", 3)], 2), ([("x", 1), (2, 2)], 1)]
        after = assert_same_behaviour(DictKeysIteration, source, "long_keys", inputs)
        self.assertIn("for key in table:", after)


class TestDictValuesIteration(RuleTest):
    TRANSFORM: type[Codemod] = DictValuesIteration

    def test_known_dicts(self) -> None:
        before = """
            def f(rows):
                totals = {row: 0 for row in rows}
                for _, total in totals.items():
                    print(total)
                for k, _ in totals.items():
                    print(k)
        """
        after = """
            def f(rows):
                totals = {row: 0 for row in rows}
                for total in totals.values():
                    print(total)
                for k, _ in totals.items():
                    print(k)
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_refusals(self) -> None:
        self.assertUnchanged(REFUSED, *REFUSED_NAMES)

    def test_only_the_target_function_changes(self) -> None:
        before = """
            def f(d: dict[str, int]):
                return [v for _, v in d.items()]

            class A:
                def g(self, d: dict[str, int]):
                    for _, v in d.items():
                        print(v)
        """
        after = """
            def f(d: dict[str, int]):
                return [v for _, v in d.items()]

            class A:
                def g(self, d: dict[str, int]):
                    for v in d.values():
                        print(v)
        """
        self.assertCodemod(before, after, target_qualname="A.g")

    def test_behaviour_is_unchanged(self) -> None:
        source = """
            def total(prices, fee):
                cart = {}
                cart.update(prices)
                result = 0
                for _, price in cart.items():
                    result += price + fee
                return result
        """
        inputs = [({}, 1), ({"a": 1, "b": 2.5}, 0), ({"a": "x"}, 1)]
        after = assert_same_behaviour(DictValuesIteration, source, "total", inputs)
        self.assertIn("for price in cart.values():", after)
