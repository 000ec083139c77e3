"""Geometry over words: lengths, and distances between points of a word map."""

import math


def longest_words(words: list[str], n: int) -> list[str]:
    """The ``n`` longest distinct words, longest first, ties broken alphabetically (reversed)."""
    unique = set(words)
    ranked = []
    for word in list(unique):
        ranked.append((len(word), word))
    ranked.sort(reverse=True)
    return [word for _, word in ranked[:n]]


def distances(points: list[tuple[float, float]], origin: tuple[float, float]) -> list[float]:
    """Euclidean distance of every point from ``origin``."""
    ox, oy = origin
    result = []
    for x, y in points:
        result.append(math.hypot(x - ox, y - oy))
    return result
