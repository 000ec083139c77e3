"""What every client returns, and the one error it raises when a model cannot answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Requests:
    """What asking once took: the requests sent (retries included), how many of them timed
    out, and the wall time. Every one of them counts against the budget, answered or not."""

    sent: int = 1
    timed_out: int = 0
    seconds: float = 0.0

    @property
    def retries(self) -> int:
        return max(0, self.sent - 1)


@dataclass(frozen=True)
class Completion:
    """A model's reply text, what it cost in tokens, and the requests it took."""

    text: str
    input_tokens: int
    output_tokens: int
    requests: Requests = Requests()

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class ModelUnavailable(Exception):
    """The model did not answer (after retries, or at once for a refusal such as a 401).

    The message is one sentence for the user and never contains an API key; ``requests``
    says what was sent in vain, so the budget can count it.
    """

    def __init__(self, message: str, requests: Requests | None = None) -> None:
        super().__init__(message)
        self.requests = requests or Requests()


class ReplyTooSlow(Exception):
    """A streamed reply was still coming when the timeout ran out (the stream is closed)."""


Retrying = Callable[[str], None]  # told "<why>; retry <n> of <m> in <s> s" before each wait


class ChatClient(Protocol):
    """One provider's chat endpoint, asked one question at a time."""

    def complete(
        self,
        system: str,
        user: str,
        *,
        max_tokens: int,
        temperature: float = 0.0,
        on_retry: Retrying | None = None,
    ) -> Completion:
        """The model's reply; raises :class:`ModelUnavailable` when there is none."""
        ...


def redact(text: str, secrets: tuple[str, ...], limit: int = 300) -> str:
    """``text`` cut to ``limit`` characters with every secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
