"""What a run found (results) and how it is shown (terminal, markdown)."""
