from textstats import render_table, summarize


def test_render_table_aligns_columns() -> None:
    text = render_table([("lantern", 12), ("orchard", 3)])
    lines = text.splitlines()
    assert lines == [f"{'lantern':<24}{12:>8}", f"{'orchard':<24}{3:>8}"]


def test_render_empty() -> None:
    assert render_table([]) == ""


def test_summary(corpus: str) -> None:
    text = summarize(corpus, top=5)
    header, *rows = text.splitlines()
    assert header.startswith(f"{len(corpus.split())} words")
    assert len(rows) == 5
    counts = [int(row.split()[-1]) for row in rows]
    assert counts == sorted(counts, reverse=True)


def test_big_table(corpus: str) -> None:
    rows = [(word, len(word)) for word in corpus.split()[:3000]]
    assert render_table(rows).count("\n") == 3000
