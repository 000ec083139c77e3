"""Two copies of the project in one replay process, so base and candidate are timed together.

Imported by ``selfimprove_replay.py`` (same folder) inside the *target's* interpreter;
standard library only. The same code in two processes can run 10-25 % apart for good
(memory layout, the core it lands on); in one process that offset is shared by both sides
and cancels.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import sys
import types
from collections.abc import Callable
from typing import IO, Any

NATIVE, OTHER = "native", "other"  # the process's own import of the project, and the copy


class Unpickler(pickle.Unpickler):
    """Looks classes and functions of the project up in one world's copy of it."""

    def __init__(self, file: IO[bytes], modules: dict[str, types.ModuleType]) -> None:
        super().__init__(file)
        self.copies = modules

    def find_class(self, module: str, name: str) -> Any:
        holder: Any = self.copies.get(module)
        if holder is None:
            return super().find_class(module, name)
        for part in name.split("."):
            holder = getattr(holder, part)
        return holder


class Watch:
    """A profile hook that notes the first function of a foreign file that starts running."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        self.prefixes = prefixes
        self.seen: str | None = None

    def _hook(self, frame: types.FrameType, event: str, arg: Any) -> None:
        if event == "call" and self.seen is None:
            filename = frame.f_code.co_filename
            if filename.startswith(self.prefixes):
                self.seen = filename

    def wrap(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if not self.prefixes:
            return func

        def watched(*args: Any, **kwargs: Any) -> Any:
            sys.setprofile(self._hook)
            try:
                return func(*args, **kwargs)
            finally:
                sys.setprofile(None)

        return watched


def _real_paths(module: types.ModuleType) -> list[str]:
    paths: list[Any] = [getattr(module, "__file__", None)]
    with contextlib.suppress(Exception):  # a broken namespace package path
        paths += list(getattr(module, "__path__", None) or ())
    return [os.path.realpath(p) for p in paths if isinstance(p, str) and p]


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def _modules_under(root: str) -> dict[str, types.ModuleType]:
    return {
        name: module
        for name, module in list(sys.modules.items())
        if isinstance(module, types.ModuleType)
        and any(_under(p, root) for p in _real_paths(module))
    }


def _moved(entry: str, here: str, there: str) -> str:
    """A ``sys.path`` entry inside ``here`` as the same folder inside ``there``."""
    real = os.path.realpath(entry or os.curdir)
    if not _under(real, here):
        return entry
    return os.path.normpath(os.path.join(there, os.path.relpath(real, here)))


class OtherCopy:
    """A second copy of the project, imported from the other worktree into this process.

    Why: the same code in two processes runs 10-25 % apart (memory layout, core), so base
    and candidate are timed side by side in one process. How: the project's own modules are
    taken out of ``sys.modules`` and ``sys.path`` is pointed at the other worktree while
    ``names`` are imported again, so every import inside the project resolves to the other
    tree; then everything native is put back. The copy keeps the module names (exception
    types and reprs compare equal) but stays out of ``sys.modules``, so native code never
    reaches it. ``foreign[world]`` are the path prefixes whose code must not run in ``world``.
    """

    def __init__(self, here: str, there: str, names: list[str]) -> None:
        if _under(here, there) or _under(there, here):
            raise ImportError("one worktree lies inside the other")
        self.root = there
        for name in names:
            importlib.import_module(name)
        native = _modules_under(here)
        for name, module in native.items():
            file = getattr(module, "__file__", None)
            if file and not file.endswith(".py"):
                raise ImportError(f"{name} is not pure Python; it cannot be imported twice")
        saved_path = list(sys.path)
        native_entries = [p for p in sys.path if _under(os.path.realpath(p or os.curdir), here)]
        for name in native:
            del sys.modules[name]
        sys.path[:] = [_moved(p, here, there) for p in sys.path]
        importlib.invalidate_caches()
        try:
            for name in names:
                importlib.import_module(name)
        finally:
            self.modules = _modules_under(there)
            for name in self.modules:
                del sys.modules[name]
            sys.modules.update(native)
            sys.path[:] = saved_path
            importlib.invalidate_caches()
        native_prefixes = {os.path.join(p or os.curdir, "") for p in native_entries}
        self.foreign = {NATIVE: (there + os.sep,), OTHER: (*native_prefixes, here + os.sep)}
