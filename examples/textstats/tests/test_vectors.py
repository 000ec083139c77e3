import math

from textstats import distances, longest_words, tokenize


def test_longest_words(corpus: str) -> None:
    words = tokenize(corpus)
    top = longest_words(words, 3)
    assert top[0] == "kaleidoscope"
    assert len(top) == 3
    assert [len(w) for w in top] == sorted((len(w) for w in top), reverse=True)


def test_distances() -> None:
    assert distances([(3.0, 4.0), (0.0, 0.0)], (0.0, 0.0)) == [5.0, 0.0]


def test_many_distances() -> None:
    points = [(float(i % 97), float(i % 89)) for i in range(20000)]
    result = distances(points, (1.0, 2.0))
    assert len(result) == len(points)
    assert math.isclose(result[0], math.hypot(-1.0, -2.0))
