"""Fixtures shared by the GitHub tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.github.rest_standin import GitHubStandIn


@pytest.fixture
def gh() -> Iterator[GitHubStandIn]:
    """A fresh REST stand-in on 127.0.0.1 (tests add the repositories they need)."""
    with GitHubStandIn() as server:
        yield server
