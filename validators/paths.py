"""Which changed paths belong to the project: the one place that decides "inside".

Gates look only at files inside the project folder, and the security gate rejects a diff
that reaches outside it; both ask :func:`project_relative`, so they can never disagree.
"""

from __future__ import annotations

import posixpath

from validators.context import GateContext


def project_relative(project: str, repo_path: str) -> str | None:
    """``repo_path`` relative to the project folder, or None if it is not safely inside.

    Absolute paths, backslashes and any ``..`` component count as outside, even when they
    would lead back in: a diff has no reason to spell a path that way.
    """
    if not repo_path or repo_path.startswith("/") or "\\" in repo_path:
        return None
    if ".." in repo_path.split("/"):
        return None
    path = posixpath.normpath(repo_path)
    if project in ("", "."):
        return None if path == "." else path
    prefix = posixpath.normpath(project) + "/"
    if not path.startswith(prefix) or path == prefix:
        return None
    return path[len(prefix) :]


def changed_python_files(ctx: GateContext) -> tuple[str, ...]:
    """The candidate's changed ``.py`` files that lie inside the project, project-relative."""
    files: list[str] = []
    for repo_path in ctx.candidate.files:
        relative = project_relative(ctx.request.project, repo_path)
        if relative is not None and relative.endswith(".py") and relative not in files:
            files.append(relative)
    return tuple(files)
