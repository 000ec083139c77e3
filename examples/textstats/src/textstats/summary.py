"""A one-call summary of a document."""

from textstats.index import vocabulary, word_counts, word_positions
from textstats.report import render_table
from textstats.tokens import content_words, tokenize
from textstats.vectors import longest_words


def summarize(text: str, top: int = 10) -> str:
    """A table of the most frequent content words, with a header line of totals."""
    words = tokenize(text)
    kept = content_words(words)
    counts = word_counts(kept)
    positions = word_positions(kept)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], positions[item[0]]))
    header = (
        f"{len(words)} words, {len(vocabulary(counts))} distinct content words, "
        f"longest: {', '.join(longest_words(kept, 3))}\n"
    )
    return header + render_table(ranked[:top])
