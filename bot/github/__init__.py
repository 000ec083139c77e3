"""GitHub edges: comment commands, webhooks, rate-limit governance; the client lives here too."""
