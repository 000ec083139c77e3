"""The patch bundle: the one place that knows its file names; verify, apply, publish."""
