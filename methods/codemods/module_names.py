"""Adding module-level names: a fresh spelling, and where new top-level statements go.

Rules that hoist something to module level (a compiled pattern, an import) share these.
"""

from __future__ import annotations

import builtins
import keyword
from collections.abc import Sequence

import libcst as cst
import libcst.matchers as m

_Statement = cst.SimpleStatementLine | cst.BaseCompoundStatement
RESERVED = frozenset(dir(builtins)) | frozenset(keyword.kwlist) | frozenset(keyword.softkwlist)


def taken_names(module: cst.Module) -> set[str]:
    """Every name spelled anywhere in ``module``, plus builtins and keywords."""
    return {n.value for n in m.findall(module, m.Name()) if isinstance(n, cst.Name)} | set(RESERVED)


def fresh_name(base: str, taken: set[str]) -> str:
    """``base``, numbered (``base_2``, ...) until it is not in ``taken``; then taken."""
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}_{number}", number + 1
    taken.add(candidate)
    return candidate


def module_import(module: cst.Module, name: str) -> bool | None:
    """True when a top-level ``import name`` binds ``name`` and nothing else in the module
    does; False when ``name`` is not spelled anywhere (an import may be added); None when
    it is used otherwise (adding or trusting an import would be a guess)."""
    imports = 0
    for line in module.body:
        for statement in line.body if isinstance(line, cst.SimpleStatementLine) else ():
            if isinstance(statement, cst.Import):
                for alias in statement.names:
                    if alias.asname is None and alias.evaluated_name == name:
                        imports += 1
    attributes = m.findall(module, m.Attribute(attr=m.Name(name)))
    skip = {id(cst.ensure_type(a, cst.Attribute).attr) for a in attributes}
    for node in m.findall(module, m.ImportFrom()):
        origin = cst.ensure_type(node, cst.ImportFrom).module
        skip |= {id(n) for n in m.findall(origin, m.Name(name))} if origin else set()
    bindings = [n for n in m.findall(module, m.Name(name)) if id(n) not in skip]
    if imports == 0:
        return False if not bindings else None
    stores = m.findall(
        module,
        m.AssignTarget(m.Name(name))
        | m.Del(m.Name(name))
        | m.Global([m.ZeroOrMore(), m.NameItem(m.Name(name)), m.ZeroOrMore()]),
    )
    return True if imports == 1 and not stores else None


def insert_after_imports(
    module: cst.Module, statements: Sequence[cst.SimpleStatementLine], imports: Sequence[str] = ()
) -> cst.Module:
    """``module`` with ``import name`` lines for ``imports`` (where isort would put a
    standard-library import) and ``statements`` after its docstring and the last top-level
    import before the first def or class: the first spot every later line can see, and one
    where every import the new lines may use has run."""
    body: list[_Statement] = list(module.body)
    for name in imports:
        added = cst.SimpleStatementLine([cst.Import([cst.ImportAlias(cst.Name(name))])])
        spot = _import_spot(body, name)
        if spot < len(body) and _is_import(body[spot]):
            added = added.with_changes(leading_lines=body[spot].leading_lines)
            body[spot] = body[spot].with_changes(leading_lines=())
        body.insert(spot, added)
    spot = 0
    for index, line in enumerate(body):
        if isinstance(line, cst.FunctionDef | cst.ClassDef):
            break
        if (index == 0 and _is_docstring(line)) or _is_import(line):
            spot = index + 1  # the last import before any def (`import re` after a `try:`)
    if statements:
        first = statements[0].with_changes(leading_lines=[cst.EmptyLine()] if spot else [])
        body[spot:spot] = [first, *statements[1:]]
        after = spot + len(statements)
        if after < len(body) and not body[after].leading_lines:
            gap = 2 if isinstance(body[after], cst.FunctionDef | cst.ClassDef) else 1
            body[after] = body[after].with_changes(leading_lines=[cst.EmptyLine()] * gap)
    return module.with_changes(body=body)


def _is_docstring(line: cst.BaseStatement) -> bool:
    return m.matches(line, m.SimpleStatementLine([m.Expr(m.SimpleString())]))


def _is_import(line: cst.BaseStatement) -> bool:
    return m.matches(line, m.SimpleStatementLine([m.Import() | m.ImportFrom()]))


def _import_spot(body: list[_Statement], name: str) -> int:
    """Before the first top-level import that sorts after ``import name``, else after the
    last one (or after the docstring when there is no import)."""
    spot = 0
    for index, line in enumerate(body):
        if index == 0 and _is_docstring(line):
            spot = 1
            continue
        if not _is_import(line):
            break
        statement = cst.ensure_type(line, cst.SimpleStatementLine).body[0]
        if isinstance(statement, cst.ImportFrom):
            module = statement.module
            if module is not None and cst.Module([]).code_for_node(module) == "__future__":
                spot = index + 1
                continue
            return index
        if isinstance(statement, cst.Import) and statement.names[0].evaluated_name > name:
            return index
        spot = index + 1
    return spot
