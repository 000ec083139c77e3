"""Replies kept by prompt: in process (cachetools) and on disk, so a re-run on the same base
asks no model again.

The key is the sha256 of provider, model, temperature and the exact prompt; the disk copy is
one JSON file per key under ``$SELFIMPROVE_HOME/cache/llm/``, written atomically (temp file +
rename). An entry keeps the prompt and its hash beside the reply, so a miss can be explained
by comparing the prompts.
Each entry carries an HMAC keyed by a random secret kept next to the entries (``.key``,
mode 0600): the sandbox hides ``$SELFIMPROVE_HOME``, so code under test cannot forge an
entry, and one whose HMAC does not match counts as a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import tempfile
from pathlib import Path

import cachetools

from bot.core.llm.completion import Completion
from bot.core.llm.settings import ModelSpec


def prompt_sha256(system: str, user: str) -> str:
    """The prompt's own hash, as the ledger records it."""
    return hashlib.sha256(json.dumps([system, user]).encode()).hexdigest()


def cache_key(spec: ModelSpec, prompt_hash: str, temperature: float) -> str:
    text = f"{spec.provider}\0{spec.model}\0{temperature!r}\0{prompt_hash}"
    return hashlib.sha256(text.encode()).hexdigest()


class PromptCache:
    """Memory first, then disk; an unreadable disk entry counts as a miss."""

    def __init__(self, folder: Path, size: int = 256) -> None:
        self.folder = folder
        self._memory: cachetools.LRUCache[str, Completion] = cachetools.LRUCache(maxsize=size)

    def get(self, key: str) -> Completion | None:
        found = self._memory.get(key)
        if found is not None:
            return found
        path = self.folder / f"{key}.json"
        try:
            data = json.loads(path.read_text())
            found = Completion(
                str(data["text"]), int(data["input_tokens"]), int(data["output_tokens"])
            )
            if not hmac.compare_digest(str(data["hmac"]), self._mac(key, found)):
                return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        self._memory[key] = found
        return found

    def put(self, key: str, completion: Completion, system: str, user: str) -> None:
        self._memory[key] = completion
        entry = {
            "text": completion.text,
            "input_tokens": completion.input_tokens,
            "output_tokens": completion.output_tokens,
            "prompt_sha256": prompt_sha256(system, user),
            "prompt": {"system": system, "user": user},
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        entry["hmac"] = self._mac(key, completion)
        fd, temp = tempfile.mkstemp(prefix=f".{key}.", dir=self.folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(entry, handle)
            os.replace(temp, self.folder / f"{key}.json")
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def _mac(self, key: str, completion: Completion) -> str:
        """HMAC-SHA256 of an entry under its key, with the cache's secret."""
        message = json.dumps(
            [key, completion.text, completion.input_tokens, completion.output_tokens]
        ).encode()
        return hmac.new(self._secret(), message, hashlib.sha256).hexdigest()

    def _secret(self) -> bytes:
        """The cache's HMAC secret, made (0600) on first use."""
        path = self.folder / ".key"
        with contextlib.suppress(FileNotFoundError):
            return path.read_bytes()
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".key.", dir=self.folder)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(os.urandom(32))
            with contextlib.suppress(FileExistsError):
                os.link(temp, path)  # atomic: the first writer's secret wins
        finally:
            os.unlink(temp)
        return path.read_bytes()
