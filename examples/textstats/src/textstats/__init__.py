"""Word statistics for plain-text documents."""

from textstats.index import vocabulary, word_positions
from textstats.report import render_table
from textstats.summary import summarize
from textstats.tokens import content_words, is_stopword, tokenize
from textstats.vectors import distances, longest_words

__all__ = [
    "content_words",
    "distances",
    "is_stopword",
    "longest_words",
    "render_table",
    "summarize",
    "tokenize",
    "vocabulary",
    "word_positions",
]
