"""Talking to the Actions runner: step outputs, the job summary and annotations.

The runner reads files and lines, not an API: ``$GITHUB_OUTPUT`` takes ``name<<DELIMITER``
blocks, ``$GITHUB_STEP_SUMMARY`` takes Markdown, and a line on stdout such as
``::error file=a.py,line=3::text`` becomes an annotation. Everything written here is
escaped the way GitHub's "Workflow commands" page (and ``@actions/core``) does, so a
message with a newline or a ``%`` cannot end a command early or forge another one.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

Level = Literal["notice", "warning", "error"]
SUMMARY_LIMIT = 1024 * 1024  # bytes the runner accepts for one step's summary
TRUNCATED = "\n_(cut to fit the job summary; the full report is report.md in the bundle)_\n"


@dataclass(frozen=True)
class Annotation:
    """One ``::notice``/``::warning``/``::error`` line; ``file`` is repository-relative."""

    level: Level
    message: str
    file: str | None = None
    line: int | None = None
    title: str | None = None

    def command(self) -> str:
        """The workflow-command line the runner turns into this annotation."""
        properties = [
            f"{key}={escape_property(str(value))}"
            for key, value in (("file", self.file), ("line", self.line), ("title", self.title))
            if value is not None and value != ""
        ]
        joined = f" {','.join(properties)}" if properties else ""
        return f"::{self.level}{joined}::{escape_data(self.message)}"


def escape_data(text: str) -> str:
    """A command's message: ``%``, CR and LF percent-encoded (``%`` first)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A command's property value: as data, plus ``:`` and ``,`` which delimit properties."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def write_outputs(path: Path, outputs: Mapping[str, str]) -> None:
    """Append ``outputs`` to ``$GITHUB_OUTPUT``, each in the multiline delimiter form.

    The delimiter is random per value and checked against it, so no value (a path, a
    list of CIDs, text from a payload) can close its block and smuggle in another output.
    """
    blocks: list[str] = []
    for name, value in outputs.items():
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        if delimiter in name or delimiter in value:  # pragma: no cover - 128 random bits
            raise ValueError("output value contains its own delimiter")
        blocks.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(blocks))


def append_summary(path: Path, markdown: str, limit: int = SUMMARY_LIMIT) -> None:
    """Add Markdown to the job summary (the runner shows every step's part, in order).

    A step's summary over 1 MiB is refused by the runner as a whole, so a longer one is
    cut at a line boundary, saying so, rather than lost.
    """
    text = markdown if markdown.endswith("\n") else markdown + "\n"
    if len(text.encode("utf-8")) > limit:
        room = limit - len(TRUNCATED.encode("utf-8"))
        kept = text.encode("utf-8")[:room].decode("utf-8", errors="ignore")
        text = kept[: kept.rfind("\n") + 1] + TRUNCATED
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


def emit(annotations: list[Annotation], stream: TextIO) -> None:
    """Print annotations as workflow commands (the runner reads stdout and stderr alike)."""
    for annotation in annotations:
        stream.write(annotation.command() + "\n")
    stream.flush()


def stop_commands(stream: TextIO) -> str:
    """Make the runner ignore workflow commands until :func:`resume_commands` is called.

    Progress lines can quote text from the target's tests; a ``::set-output`` or
    ``::add-mask`` inside them must stay text. Returns the token that resumes.
    """
    token = secrets.token_hex(16)
    stream.write(f"::stop-commands::{token}\n")
    stream.flush()
    return token


def resume_commands(stream: TextIO, token: str) -> None:
    """Let the runner read workflow commands again."""
    stream.write(f"::{token}::\n")
    stream.flush()
