"""Which changed paths belong to the project.

Gates look only at files inside the project folder, and the security gate rejects a diff
that reaches outside it; both ask :func:`bot.core.path_policy.project_relative` (as does
``apply``), so they can never disagree.
"""

from __future__ import annotations

from bot.core.path_policy import project_relative
from validators.context import GateContext

__all__ = ["changed_python_files", "project_relative"]


def changed_python_files(ctx: GateContext) -> tuple[str, ...]:
    """The candidate's changed ``.py`` files that lie inside the project, project-relative."""
    files: list[str] = []
    for repo_path in ctx.candidate.files:
        relative = project_relative(ctx.request.project, repo_path)
        if relative is not None and relative.endswith(".py") and relative not in files:
            files.append(relative)
    return tuple(files)
