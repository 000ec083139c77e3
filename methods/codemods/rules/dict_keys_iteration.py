"""dict-keys-iteration: ``for k, _ in d.items():`` becomes ``for k in d:``.

Iterating a dict yields its keys directly, without building and unpacking a pair per item.
The checks live in :mod:`methods.codemods.dict_items`.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from methods.codemods.dict_items import KEYS_LOOP, DictItemsCodemod


class DictKeysIteration(DictItemsCodemod):
    RULE_ID = "dict-keys-iteration"
    DESCRIPTION = (
        "Iterates the dict's keys directly instead of unpacking items() and discarding "
        "each value, which skips building a pair per entry."
    )

    QUICK_CHECK = KEYS_LOOP

    @m.leave(KEYS_LOOP)
    def _keys(self, original_node: cst.For, updated_node: cst.For) -> cst.For:
        found = self.half_unused(original_node, dropped=1)
        if found is None:
            return updated_node
        mapping, key = found
        call = cst.ensure_type(original_node.iter, cst.Call)
        return updated_node.with_changes(
            target=key, iter=mapping.with_changes(lpar=call.lpar, rpar=call.rpar)
        )
