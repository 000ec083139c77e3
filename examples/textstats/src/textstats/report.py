"""Plain-text rendering of word statistics."""


def render_table(rows: list[tuple[str, int]]) -> str:
    """One line per (word, count) row: the word left-aligned, the count right-aligned."""
    text = ""
    for word, count in rows:
        text += f"{word:<24}{count:>8}\n"
    return text
