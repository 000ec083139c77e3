"""dict-values-iteration: ``for _, v in d.items():`` becomes ``for v in d.values():``.

``values()`` yields the values without building and unpacking a pair per item. The checks
live in :mod:`methods.codemods.dict_items`.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from methods.codemods.dict_items import VALUES_LOOP, DictItemsCodemod


class DictValuesIteration(DictItemsCodemod):
    RULE_ID = "dict-values-iteration"
    DESCRIPTION = (
        "Iterates the dict's values() instead of unpacking items() and discarding "
        "each key, which skips building a pair per entry."
    )

    QUICK_CHECK = VALUES_LOOP

    @m.leave(VALUES_LOOP)
    def _values(self, original_node: cst.For, updated_node: cst.For) -> cst.For:
        found = self.half_unused(original_node, dropped=0)
        if found is None:
            return updated_node
        _, value = found
        call = cst.ensure_type(original_node.iter, cst.Call)
        attribute = cst.ensure_type(call.func, cst.Attribute)
        values = call.with_changes(func=attribute.with_changes(attr=cst.Name("values")))
        return updated_node.with_changes(target=value, iter=values)
