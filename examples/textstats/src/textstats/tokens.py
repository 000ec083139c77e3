"""Split text into words and drop the words that carry no meaning."""

import re

_WORD = re.compile(r"[a-z']+")


def tokenize(text: str) -> list[str]:
    """Lower-case words, apostrophes kept ("don't" stays one word)."""
    return _WORD.findall(text.lower())


def is_stopword(word: str) -> bool:
    """True for the common English words that say nothing about a document's topic."""
    return word in [
        "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be",
        "because", "been", "but", "by", "can", "could", "did", "do", "does", "for", "from",
        "had", "has", "have", "he", "her", "his", "how", "i", "if", "in", "into", "is", "it",
        "its", "just", "me", "more", "most", "my", "no", "not", "of", "on", "one", "only", "or",
        "other", "our", "out", "over", "she", "so", "some", "such", "than", "that", "the",
        "their", "them", "then", "there", "these", "they", "this", "to", "up", "was", "we",
        "were", "what", "when", "which", "who", "will", "with", "would", "you", "your",
    ]  # fmt: skip


def content_words(words: list[str]) -> list[str]:
    """The words of a document that are not stopwords, in order."""
    kept = []
    for word in words:
        if not is_stopword(word):
            kept.append(word)
    return kept
