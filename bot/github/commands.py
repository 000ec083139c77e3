"""The comment command grammar: ``/improve``, ``/improve help``, ``/improve status``.

Pure: a comment body in, a ``Command``, a ``Malformed`` (with the reply to post) or
``None`` out. A command must start a line of prose: text inside fenced code blocks, HTML
comments and ``>`` quotes is somebody talking *about* the bot, not to it, so it never
triggers a run. Only the first command of a comment counts, so one comment is one run.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from methods.registry import NAMES as METHOD_NAMES

MAX_QUOTED = 200  # characters of the user's line repeated in a reply

HELP = """\
**selfimprove** reads a command at the start of a line of a comment:

- `/improve [paths…] [--method METHOD] [--budget N] [--dry-run]` improves the named \
files, folders or functions (`src/pkg/mod.py`, `src/pkg`, `src/pkg/mod.py:func`, \
`src/pkg/mod.py:Class.method`), or the profiled hot spots when no path is given.
  - `--method`: `test-driven`, `adversarial`, `actor-critic`, `chaos` or `auto` \
(default: the repository's configured method).
  - `--budget N`: a positive whole number that bounds the run's work \
(default: the repository's configured budget).
  - `--dry-run`: report and attach the patch bundle, open no pull request.
- `/improve status` shows the current run for this issue or pull request.
- `/improve help` shows this text.

Paths are relative to the repository, use `/`, and may not contain `..`. \
Commands inside code blocks or quotes are ignored."""

_COMMAND = re.compile(r"^[ \t]*/improve(?=\s|$)(?P<rest>.*)$")
# Fences and quotes are recognised at any indentation (inside list items, too): when in
# doubt a line is treated as quoted, because a missed command costs a retry and a false
# one costs a run.
_FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_QUOTE = re.compile(r"^[ \t]*>")
_PLAIN_PATH = re.compile(r"[\w.\-/ +,=]+")


@dataclass(frozen=True)
class Command:
    """A well-formed command. ``None`` for method or budget means "use the configuration"."""

    kind: Literal["improve", "help", "status"]
    paths: tuple[str, ...] = ()
    method: str | None = None
    budget: int | None = None
    dry_run: bool = False
    line: str = ""


@dataclass(frozen=True)
class Malformed:
    """A command we recognised but could not read; ``reply`` is ready to post."""

    line: str
    problem: str
    reply: str


class _Refusal(Exception):
    """One sentence saying what is wrong with a command line."""


def parse_comment(body: str) -> Command | Malformed | None:
    """The first command in a comment body, or ``None`` when it holds none."""
    for line in _prose_lines(body):
        found = _COMMAND.match(line)
        if found is None:
            continue
        try:
            return _parse(found["rest"], line.strip())
        except _Refusal as refusal:
            return _malformed(line.strip(), str(refusal))
    return None


def _prose_lines(body: str) -> Iterator[str]:
    """The lines of ``body`` outside fenced code, HTML comments and block quotes."""
    fence: str | None = None
    in_comment = False
    for line in body.splitlines():
        if fence is not None:
            closing = _FENCE.match(line)
            if closing and closing["fence"].startswith(fence) and not closing["info"].strip():
                fence = None
            continue
        if in_comment:
            in_comment = "-->" not in line or line.rfind("<!--") > line.rfind("-->")
            continue
        opening = _FENCE.match(line)
        if opening and not (opening["fence"][0] == "`" and "`" in opening["info"]):
            fence = opening["fence"]
            continue
        if not line.lstrip().startswith("<!--") and not _QUOTE.match(line):
            yield line
        in_comment = line.rfind("<!--") > line.rfind("-->")


def _parse(rest: str, line: str) -> Command:
    if "\\" in rest:  # shlex would silently eat it: src\pkg\mod.py -> srcpkgmod.py
        raise _Refusal("paths are written with `/`, and `\\` has no meaning here")
    try:
        tokens = shlex.split(rest)
    except ValueError as exc:
        raise _Refusal(f"the command could not be split into words ({exc})") from None
    if tokens and tokens[0] in ("help", "status"):
        if len(tokens) > 1:
            raise _Refusal(f"`/improve {tokens[0]}` takes nothing after it, not {_code(tokens[1])}")
        return Command(kind="help" if tokens[0] == "help" else "status", line=line)
    paths: list[str] = []
    options: dict[str, str] = {}
    dry_run = False
    words = iter(tokens)
    for word in words:
        if not word.startswith("-"):
            paths.append(_checked_path(word))
            continue
        name, has_value, value = word.partition("=")
        if name == "--dry-run" and not has_value:
            if dry_run:
                raise _Refusal("`--dry-run` is given twice")
            dry_run = True
        elif name in ("--method", "--budget"):
            if name in options:
                raise _Refusal(f"`{name}` is given twice")
            if not has_value:
                value = next(words, "")
            if not value or value.startswith("--"):
                raise _Refusal(f"`{name}` needs a value")
            options[name] = value
        else:
            raise _Refusal(f"unknown option {_code(word)}")
    return Command(
        kind="improve",
        paths=tuple(paths),
        method=_checked_method(options.get("--method")),
        budget=_checked_budget(options.get("--budget")),
        dry_run=dry_run,
        line=line,
    )


def _checked_method(value: str | None) -> str | None:
    if value is not None and value not in METHOD_NAMES:
        known = ", ".join(f"`{m}`" for m in METHOD_NAMES)
        raise _Refusal(f"unknown method {_code(value)}: choose one of {known}")
    return value


def _checked_budget(value: str | None) -> int | None:
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]{1,9}", value) or int(value) < 1:
        raise _Refusal(f"`--budget` must be a positive whole number, not {_code(value)}")
    return int(value)


def _checked_path(word: str) -> str:
    path, has_function, function = word.partition(":")
    segments = path.split("/")
    if path.startswith(("/", "~")) or re.match(r"[A-Za-z]:/", word):
        raise _Refusal(f"{_code(word)} is absolute: name a path inside the repository")
    if ".." in segments:
        raise _Refusal(f"{_code(word)} leaves the repository (`..`)")
    if not _PLAIN_PATH.fullmatch(path):
        raise _Refusal(f"{_code(word)} is not a plain repository path")
    is_file = path.endswith(".py")
    if not is_file and "." in segments[-1].strip("."):
        raise _Refusal(f"{_code(word)} is neither a .py file nor a folder")
    if has_function and not (is_file and all(part.isidentifier() for part in function.split("."))):
        raise _Refusal(f"{_code(word)}: only a .py file can name a function, as `mod.py:func`")
    return word


def _malformed(line: str, problem: str) -> Malformed:
    quoted = line if len(line) <= MAX_QUOTED else line[:MAX_QUOTED] + "…"
    fence = "`" * max(3, _longest_backtick_run(quoted) + 1)
    reply = (
        f"I could not read this command:\n\n{fence}\n{quoted}\n{fence}\n\n"
        f"Problem: {problem}.\n\n{HELP}"
    )
    return Malformed(line=line, problem=problem, reply=reply)


def _code(text: str) -> str:
    """``text`` as inline code that its own backticks cannot break out of (no @mentions)."""
    text = text if len(text) <= 60 else text[:60] + "…"
    ticks = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)
