from textstats import tokenize, vocabulary, word_positions
from textstats.index import word_counts


def test_positions_are_last_occurrences() -> None:
    assert word_positions(["a", "b", "a"]) == {"a": 2, "b": 1}


def test_counts_and_vocabulary(corpus: str) -> None:
    words = tokenize(corpus)
    counts = word_counts(words)
    assert sum(counts.values()) == len(words)
    vocab = vocabulary(counts)
    assert vocab == sorted(set(words))
    positions = word_positions(words)
    assert all(words[i] == w for w, i in positions.items())
