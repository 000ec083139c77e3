"""How candidates are made and searched: one module per method; generators under codemods/."""
