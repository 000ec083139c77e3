"""The one list of methods, and the typed way to get one.

Names are known without importing any method (the CLI's ``--help`` and the comment
grammar need them at once); :func:`load` imports only the method asked for.
"""

from __future__ import annotations

from bot.core.method import Method

NAMES: tuple[str, ...] = ("test-driven", "adversarial", "actor-critic", "chaos", "auto")


def load(name: str) -> Method:
    """The method called ``name``; a ``KeyError`` for a name not in :data:`NAMES`."""
    if name == "test-driven":
        from methods import test_driven

        return test_driven
    if name == "adversarial":
        from methods import adversarial

        return adversarial
    if name == "actor-critic":
        from methods import actor_critic

        return actor_critic
    if name == "chaos":
        from methods import chaos

        return chaos
    if name == "auto":
        from methods import auto

        return auto
    raise KeyError(name)
