"""Shared core: the data types and narrow clients that methods and validators may use.

Nothing in here imports the orchestrator, the CLI or delivery code.
"""
