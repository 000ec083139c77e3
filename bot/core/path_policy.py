"""Which files a change may touch: one policy for gate 3 and for ``apply``/``rollback``.

Two layers. :func:`diff_breach` is the floor every diff must clear, whoever made it: no
path outside the project or inside ``.git``, no CI workflow or action, no file that a
tool runs on its own (``conftest.py``, ``setup.py``, a ``.pth`` file, ...), no symbolic
link, submodule, binary or mode change. :func:`candidate_breach` adds gate 3's allowlist
on top: a candidate edits only its target file(s), and only a method that writes tests
may add new test files, under the project's test folder. Paths are read from the diff
itself (unidiff), never from what a candidate says it changed.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePosixPath

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchedFile, PatchSet

from bot.core.baseline import Baseline
from bot.core.candidate import Candidate
from bot.core.request import Request

# Methods whose candidates are new regression tests (methods/chaos.py), not code changes.
TEST_WRITERS = frozenset({"chaos"})
TEST_FOLDERS = frozenset({"tests", "test", "testing"})

# Files some tool runs or obeys without being asked: changing one changes what runs.
RUN_BY_TOOLS = {
    "conftest.py": "pytest runs it on collection",
    "setup.py": "the packaging tools run it",
    "setup.cfg": "it configures the packaging and test tools",
    "pyproject.toml": "it configures the build and every tool",
    "tox.ini": "tox runs the commands in it",
    "noxfile.py": "nox runs it",
    "sitecustomize.py": "the interpreter runs it at start-up",
    "usercustomize.py": "the interpreter runs it at start-up",
    ".gitattributes": "it makes git run filters and diff drivers",
    ".gitmodules": "it points git at other repositories",
    ".pre-commit-config.yaml": "pre-commit runs the hooks in it",
}
_PTH = "the interpreter runs the imports in a .pth file at start-up"
_CI = ((".github", "workflows"), (".github", "actions"))
_REGULAR = "100644"
_SYMLINK = "120000"
_SUBMODULE = "160000"


class PolicyError(Exception):
    """A diff the policy cannot read, so it cannot be allowed."""


@dataclass(frozen=True)
class Touch:
    """One file a diff touches, as git would apply it."""

    path: str  # where the file ends up (its old path when it is deleted)
    old_path: str  # where it was (``path`` unless renamed; ``path`` when it is new)
    added: bool
    removed: bool
    old_mode: str | None
    new_mode: str | None
    binary: bool

    @property
    def renamed(self) -> bool:
        return self.old_path != self.path

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path,) if not self.renamed else (self.old_path, self.path)


@dataclass(frozen=True)
class Allowance:
    """What one candidate may touch: its targets (project-relative) and where tests go."""

    targets: frozenset[str]
    test_folder: str | None  # project-relative ("." for the project root); None: no new tests


def project_relative(project: str, repo_path: str) -> str | None:
    """``repo_path`` relative to the project folder, or None if it is not safely inside.

    Absolute paths, backslashes, quotes, control characters and any ``..`` component count
    as outside, even when they would lead back in: a diff has no reason to spell a path so.
    """
    if not repo_path or repo_path.startswith("/") or any(c in repo_path for c in '\\"'):
        return None
    if ".." in repo_path.split("/") or any(ord(c) < 32 or ord(c) == 127 for c in repo_path):
        return None
    path = posixpath.normpath(repo_path)
    if project in ("", "."):
        return None if path == "." else path
    prefix = posixpath.normpath(project) + "/"
    if not path.startswith(prefix) or path == prefix:
        return None
    return path[len(prefix) :]


def is_test_path(project_path: str) -> bool:
    """A test module, a ``conftest.py``, or anything in a test folder."""
    *folders, name = project_path.split("/")
    return name == "conftest.py" or any(f in TEST_FOLDERS for f in folders) or _test_module(name)


def candidate_allowance(request: Request, baseline: Baseline, candidate: Candidate) -> Allowance:
    """Its target files (never a test), and the test folder if its method writes tests."""
    named = (
        candidate.target.file,
        *(project_relative(request.project, f) for f in candidate.files),
    )
    targets = frozenset(p for p in named if p and not is_test_path(p))
    writes_tests = any(m in TEST_WRITERS for m in candidate.method.split("+"))
    return Allowance(targets, where_tests_live(request, baseline) if writes_tests else None)


def where_tests_live(request: Request, baseline: Baseline) -> str:
    """Where the project keeps its tests (project-relative): where most passing tests live."""
    project = request.project_path(baseline.root)
    folders: Counter[str] = Counter()
    for node in baseline.passed_tests:
        file = node.split("::", 1)[0]
        if file.endswith(".py") and (project / file).is_file():
            folders[posixpath.dirname(file) or "."] += 1
    if folders:
        return folders.most_common(1)[0][0]
    return "tests" if (project / "tests").is_dir() else "."


def touches(diff: str) -> tuple[Touch, ...]:
    """Every file ``diff`` touches; a :class:`PolicyError` if it cannot be parsed."""
    try:
        return tuple(_touch(p) for p in PatchSet(diff))
    except UnidiffParseError as exc:
        raise PolicyError(f"the diff cannot be parsed ({exc})") from None


def _name(raw: str) -> str | None:
    if not raw or raw == "/dev/null":
        return None
    return raw[2:] if raw[:2] in ("a/", "b/") else raw


def _touch(patched: PatchedFile) -> Touch:
    old = _name(patched.source_file)
    new = _name(patched.target_file)
    path = new or old or ""
    return Touch(
        path=path,
        old_path=old or path,
        added=patched.is_added_file,
        removed=patched.is_removed_file,
        old_mode=patched.source_mode,
        new_mode=patched.target_mode,
        binary=patched.is_binary_file,
    )


def diff_breach(diff: str, project: str) -> str | None:
    """Why ``diff`` breaks the floor every change must clear, or None."""
    try:
        found = touches(diff)
    except PolicyError as exc:
        return str(exc)
    for touch in found:
        breach = touch_breach(touch, project)
        if breach:
            return breach
    return None


def candidate_breach(diff: str, project: str, allowance: Allowance) -> str | None:
    """Why a candidate's ``diff`` breaks gate 3's policy: the floor, then the allowlist."""
    try:
        found = touches(diff)
    except PolicyError as exc:
        return str(exc)
    for touch in found:
        breach = touch_breach(touch, project) or _allowlist_breach(touch, project, allowance)
        if breach:
            return breach
    return None


def touch_breach(touch: Touch, project: str) -> str | None:
    """Why this one file may not be changed by any diff, or None."""
    for path in touch.paths:
        breach = _path_breach(path, project)
        if breach:
            return breach
    return _mode_breach(touch)


def _path_breach(path: str, project: str) -> str | None:
    lowered = [p.lower() for p in path.split("/")]
    if ".git" in lowered:
        return f"{path} is inside git's own folder"
    if any(tuple(lowered[i : i + 2]) in _CI for i in range(len(lowered))):
        return f"{path} is a CI workflow or action file"
    if project_relative(project, path) is None:
        where = "the repository" if project in ("", ".") else f"the project folder {project}/"
        return f"{path} is outside {where}"
    name = lowered[-1]
    if name in RUN_BY_TOOLS:
        return f"{path} may not change: {RUN_BY_TOOLS[name]}"
    if name.endswith(".pth"):
        return f"{path} may not change: {_PTH}"
    return None


def _mode_breach(touch: Touch) -> str | None:
    modes = {touch.old_mode, touch.new_mode} - {None}
    if _SYMLINK in modes:
        return f"{touch.path} is a symbolic link"
    if _SUBMODULE in modes:
        return f"{touch.path} is a submodule"
    if touch.old_mode and touch.new_mode and touch.old_mode != touch.new_mode:
        return f"{touch.path} changes mode ({touch.old_mode} -> {touch.new_mode})"
    if touch.added and touch.new_mode not in (None, _REGULAR):
        return f"{touch.path} would be created with mode {touch.new_mode}"
    if touch.binary:
        return f"{touch.path} is a binary file"
    return None


def _allowlist_breach(touch: Touch, project: str, allowance: Allowance) -> str | None:
    path = project_relative(project, touch.path) or touch.path
    if touch.renamed:
        return f"{touch.old_path} is renamed to {touch.path}: a candidate renames nothing"
    if path in allowance.targets:
        if touch.added or touch.removed:
            kind = "creates" if touch.added else "deletes"
            return f"the diff {kind} {touch.path}, its target: a candidate only edits its target"
        return None
    if not is_test_path(path):
        targets = ", ".join(sorted(allowance.targets)) or "none"
        return f"{touch.path} is not a target of the candidate (targets: {targets})"
    if not touch.added:
        return f"{touch.path} is an existing test: a candidate may not edit or delete tests"
    if allowance.test_folder is None:
        return f"{touch.path} is a new test, and only a method that writes tests may add one"
    folder = allowance.test_folder
    inside = posixpath.dirname(path) == "" if folder == "." else path.startswith(folder + "/")
    if not inside or not _test_module(PurePosixPath(path).name):
        where = "the project folder" if folder == "." else f"{folder}/"
        return f"{touch.path} is not a test module (test_*.py) in the test folder {where}"
    return None


def _test_module(name: str) -> bool:
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))
