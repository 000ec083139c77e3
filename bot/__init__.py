"""selfimprove: the orchestrator and its edges (CLI, config, worktrees, bundles, reports)."""
