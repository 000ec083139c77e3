"""Look-up structures over a document's words."""


def word_positions(words: list[str]) -> dict[str, int]:
    """The position of the last occurrence of every word."""
    positions = {}
    for index, word in enumerate(words):
        positions[word] = index
    return positions


def word_counts(words: list[str]) -> dict[str, int]:
    """How often each word occurs."""
    counts: dict[str, int] = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    return counts


def vocabulary(counts: dict[str, int]) -> list[str]:
    """The distinct words of a count table, sorted."""
    words = []
    for word, _ in counts.items():
        words.append(word)
    return sorted(words)
