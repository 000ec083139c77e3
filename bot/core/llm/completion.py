"""What every client returns, and the one error it raises when a model cannot answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Completion:
    """A model's reply text and what it cost in tokens."""

    text: str
    input_tokens: int
    output_tokens: int

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class ModelUnavailable(Exception):
    """The model did not answer (after retries, or at once for a refusal such as a 401).

    The message is one sentence for the user and never contains an API key.
    """


class ChatClient(Protocol):
    """One provider's chat endpoint, asked one question at a time."""

    def complete(self, system: str, user: str, *, max_tokens: int) -> Completion:
        """The model's reply; raises :class:`ModelUnavailable` when there is none."""
        ...


def redact(text: str, secrets: tuple[str, ...], limit: int = 300) -> str:
    """``text`` cut to ``limit`` characters with every secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
