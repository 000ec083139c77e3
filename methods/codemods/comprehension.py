"""Building the comprehension that replaces an accumulating loop, with the parens it needs."""

from __future__ import annotations

import libcst as cst

from methods.codemods.accumulate import Loop


def comprehension_for(loop: Loop) -> cst.CompFor:
    """``for target in iter [if cond]`` as a comprehension clause, parenthesised as needed."""
    ifs = [cst.CompIf(test=_wrap(loop.cond, _LOOSE_CLAUSE))] if loop.cond is not None else []
    return cst.CompFor(target=loop.target, iter=_wrap(loop.iter, _LOOSE_CLAUSE), ifs=ifs)


def element(expr: cst.BaseExpression) -> cst.BaseExpression:
    """``expr`` fit to be a comprehension's element, key or value (a bare tuple needs parens)."""
    return _wrap(expr, ())


# A clause (``in x``, ``if x``) is a disjunction: a conditional or lambda there needs parens.
_LOOSE_CLAUSE = (cst.IfExp, cst.Lambda)


def _wrap(
    expr: cst.BaseExpression, loose: tuple[type[cst.BaseExpression], ...]
) -> cst.BaseExpression:
    bare_tuple = isinstance(expr, cst.Tuple) and not expr.lpar
    if bare_tuple or (isinstance(expr, loose) and not expr.lpar):
        return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return expr
