"""The deliveries a webhook server already accepted, kept on disk so a restart forgets none.

A captured delivery stays validly signed forever (GitHub's signature has no timestamp),
so the only defence against a replay is remembering. Each accepted delivery is kept as
its ``X-GitHub-Delivery`` id and the sha256 of its body: the id alone is not signed (a
replayer can change it), the body alone would let a fresh id smuggle an old body.

The file holds one ``<id> <sha256>`` line per delivery. Accepting appends a line (one
short ``write``, atomic on POSIX appends); once the file holds twice the limit it is
rewritten with the newest ``limit`` entries through a temporary file and a rename, as is
every removal, so a reader never sees half a file.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path

from bot.core import atomic

DEFAULT_LIMIT = 10_000
_LINE = re.compile(r"(?P<id>[\x21-\x7e]{1,200}) (?P<digest>[0-9a-f]{64})")


class SeenDeliveries:
    """The newest ``limit`` accepted deliveries, by id and by body digest.

    ``path`` None keeps them in memory only (gone on restart). Not thread-safe: the server
    calls it under its own lock.
    """

    def __init__(self, path: Path | None, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("a replay store must remember at least one delivery")
        self.path = path
        self.limit = limit
        self._by_id: OrderedDict[str, str] = OrderedDict()
        self._by_digest: dict[str, str] = {}
        self._lines = 0
        if path is not None and path.is_file():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                found = _LINE.fullmatch(line)
                if found:  # a torn last line (a crash mid-append) is skipped
                    self._remember(found["id"], found["digest"])
                self._lines += 1

    def __len__(self) -> int:
        return len(self._by_id)

    def seen(self, delivery_id: str, digest: str) -> bool:
        """Whether this id, or this body under any id, was accepted before."""
        return _plain(delivery_id) in self._by_id or digest in self._by_digest

    def add(self, delivery_id: str, digest: str) -> None:
        """Remember an accepted delivery, on disk before the caller answers."""
        self._remember(_plain(delivery_id), digest)
        if self.path is None:
            return
        if self._lines + 1 >= 2 * self.limit:
            self._rewrite()
        else:
            atomic.append_line(self.path, f"{_plain(delivery_id)} {digest}")
            self._lines += 1

    def forget(self, delivery_id: str) -> None:
        """Drop a delivery that failed, so GitHub's "Redeliver" is taken again."""
        digest = self._by_id.pop(_plain(delivery_id), None)
        if digest is None:
            return
        self._by_digest.pop(digest, None)
        if self.path is not None:
            self._rewrite()

    def _remember(self, delivery_id: str, digest: str) -> None:
        old = self._by_id.pop(delivery_id, None)
        if old is not None:
            self._by_digest.pop(old, None)
        self._by_id[delivery_id] = digest
        self._by_digest[digest] = delivery_id
        while len(self._by_id) > self.limit:
            _, dropped = self._by_id.popitem(last=False)
            self._by_digest.pop(dropped, None)

    def _rewrite(self) -> None:
        assert self.path is not None
        text = "".join(f"{i} {d}\n" for i, d in self._by_id.items())
        atomic.write_text(self.path, text)
        self._lines = len(self._by_id)


def _plain(delivery_id: str) -> str:
    """The id as one printable token, so it cannot break the file's line format."""
    cleaned = "".join(c if "\x21" <= c <= "\x7e" else "_" for c in delivery_id)
    return cleaned[:200] or "_"
