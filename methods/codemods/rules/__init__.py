"""One libcst rule per module; the helpers they share sit one folder up."""
