from textstats import content_words, is_stopword, tokenize


def test_tokenize_lowercases_and_keeps_apostrophes() -> None:
    assert tokenize("Don't PANIC, it's fine.") == ["don't", "panic", "it's", "fine"]


def test_stopwords() -> None:
    assert is_stopword("the")
    assert is_stopword("would")
    assert not is_stopword("lantern")
    assert not is_stopword("The")  # callers lower-case first


def test_content_words_keeps_order(corpus: str) -> None:
    words = tokenize(corpus)
    kept = content_words(words)
    assert kept and all(not is_stopword(w) for w in kept)
    assert len(kept) < len(words)
    assert kept == [w for w in words if not is_stopword(w)]
