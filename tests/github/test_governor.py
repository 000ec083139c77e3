"""Rate-limit bookkeeping over GitHub-shaped response headers and a clock we move by hand."""

from __future__ import annotations

import pytest

from bot.github.governor import (
    DEFAULT_RESERVE,
    GITHUB_TOKEN_LIMIT,
    TOKEN_LIMIT,
    WRITES_PER_HOUR,
    WRITES_PER_MINUTE,
    FallBack,
    Governor,
    Quota,
    Usage,
    Wait,
    is_write,
    read_quota,
)

NOW = 1_714_137_000.0  # 2024-04-26T13:10:00Z
RESET = 1_714_137_600  # ten minutes later


class Clock:
    """Wall-clock seconds that only move when the test says so."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def response(
    remaining: int,
    *,
    limit: int = TOKEN_LIMIT,
    reset: int = RESET,
    resource: str = "core",
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """Headers of a REST response, capitalised the way api.github.com sends them."""
    return {
        "Content-Type": "application/json; charset=utf-8",
        "ETag": 'W/"a00049ba79152d03380c34652f2cb612"',
        "X-GitHub-Media-Type": "github.v3; format=json",
        "X-GitHub-Request-Id": "C3C0:2B7C:1B0F5E3:1C1B7A9:662BA6A8",
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(reset),
        "X-RateLimit-Used": str(limit - remaining),
        "X-RateLimit-Resource": resource,
        **(extra or {}),
    }


def test_documented_primary_limits() -> None:
    assert (GITHUB_TOKEN_LIMIT, TOKEN_LIMIT, DEFAULT_RESERVE) == (1_000, 5_000, 100)
    assert (WRITES_PER_MINUTE, WRITES_PER_HOUR) == (80, 500)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (response(4987), Quota("core", 5000, 4987, float(RESET))),
        (response(9, limit=30, resource="search"), Quota("search", 30, 9, float(RESET))),
        (
            {"x-ratelimit-limit": "1000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "7"},
            Quota("core", 1000, 0, 7.0),
        ),
        ({"Content-Type": "application/json"}, None),
        (response(4987, extra={"X-RateLimit-Remaining": "lots"}), None),
        (response(4987, extra={"X-RateLimit-Reset": "soon"}), None),
    ],
)
def test_quota_headers(headers: dict[str, str], expected: Quota | None) -> None:
    assert read_quota(headers) == expected


def test_counters_for_the_report() -> None:
    governor = Governor(Clock())
    governor.record(200, response(4990))
    governor.record(304, response(4990))
    governor.record(201, response(4989))
    governor.record(200, response(25, limit=30, resource="search"))
    governor.record(502, {"Content-Type": "text/html"})
    assert governor.usage() == Usage(
        requests=5, not_modified=1, remaining={"core": 4989, "search": 25}
    )


def test_falls_back_before_the_reserve_is_touched() -> None:
    clock = Clock()
    governor = Governor(clock)
    assert governor.should_fall_back(10_000) is False  # nothing known yet
    governor.record(200, response(150, limit=GITHUB_TOKEN_LIMIT))
    assert governor.should_fall_back(50) is False  # 150 - 50 = 100, the reserve is intact
    assert governor.should_fall_back(51) is True
    assert governor.should_fall_back(51, resource="search") is False
    clock.now = RESET  # the window has reset: the whole limit is back
    assert governor.remaining() == GITHUB_TOKEN_LIMIT
    assert governor.should_fall_back(51) is False
    assert Governor(Clock(), reserve=0).should_fall_back(1) is False


def test_late_responses_do_not_raise_the_quota() -> None:
    governor = Governor(Clock())
    governor.record(200, response(4000))
    governor.record(200, response(4010))  # an earlier request answered later
    assert governor.remaining() == 4000
    governor.record(200, response(4999, reset=RESET + 3600))  # a new window
    assert governor.remaining() == 4999
    governor.record(200, response(3, reset=RESET))  # from the old window: stale
    assert governor.remaining() == 4999


@pytest.mark.parametrize(
    ("status", "headers", "message", "attempt", "expected"),
    [
        (200, response(4000), "", 0, None),
        (404, response(4000), "Not Found", 0, None),
        (403, response(4000), "Resource not accessible by integration", 0, None),
        (403, response(4000, extra={"Retry-After": "30"}), "", 0, Wait(30.0)),
        (429, response(4000, extra={"retry-after": "60"}), "", 0, Wait(60.0)),
        (
            403,
            response(4000, extra={"Retry-After": "120"}),
            "You have exceeded a secondary rate limit.",
            0,
            FallBack("GitHub asked to retry after 120 s, longer than the 60 s cap"),
        ),
        (
            403,
            response(4000, extra={"Retry-After": "Fri, 26 Apr 2024 13:10:45 GMT"}),
            "",
            0,
            Wait(45.0),
        ),
        (
            403,
            response(0, reset=int(NOW) + 42),
            "API rate limit exceeded for installation",
            0,
            Wait(42.0),
        ),
        (429, response(0, reset=int(NOW) - 5), "", 0, Wait(0.0)),
        (
            403,
            response(0),
            "API rate limit exceeded for installation ID 9876543.",
            0,
            FallBack("the core quota resets in 600 s, longer than the 60 s cap"),
        ),
        (403, response(12), "You have exceeded a secondary rate limit. Please wait", 0, Wait(60.0)),
        (429, {}, "", 0, Wait(60.0)),
        (
            429,
            {},
            "",
            1,
            FallBack("a secondary limit asks 120 s, longer than the 60 s cap"),
        ),
    ],
)
def test_what_to_do_after_a_response(
    status: int,
    headers: dict[str, str],
    message: str,
    attempt: int,
    expected: Wait | FallBack | None,
) -> None:
    governor = Governor(Clock())
    assert governor.wait_seconds(status, headers, message, attempt) == expected


def test_a_longer_cap_waits_for_the_reset_and_doubles_secondary_waits() -> None:
    governor = Governor(Clock(), wait_cap=900.0)
    assert governor.wait_seconds(403, response(0), "API rate limit exceeded") == Wait(600.0)
    assert governor.wait_seconds(429, {}, "", attempt=2) == Wait(240.0)


def test_writes_are_spaced_a_second_apart() -> None:
    clock = Clock()
    governor = Governor(clock)
    assert governor.write_delay() == 0.0
    governor.record_write()
    assert governor.write_delay() == 1.0
    clock.now += 0.25
    assert governor.write_delay() == 0.75
    clock.now += 5
    assert governor.write_delay() == 0.0


def test_eighty_writes_a_minute() -> None:
    clock = Clock()
    governor = Governor(clock)
    for _ in range(WRITES_PER_MINUTE):
        governor.record_write()
        clock.now += 0.5  # faster than advised, to reach the minute limit
    # 80 writes in the last 40 s: the first one must leave the window first
    assert governor.write_delay() == pytest.approx(20.0)
    clock.now += 20.0
    assert governor.write_delay() == 0.0


def test_five_hundred_writes_an_hour() -> None:
    clock = Clock()
    governor = Governor(clock)
    start = clock.now
    for _ in range(WRITES_PER_HOUR):
        governor.record_write()
        clock.now += 1.0
    clock.now = start + 3000.0  # the per-minute window is long clear
    assert governor.write_delay() == pytest.approx(600.0)  # until the first write is an hour old
    clock.now = start + 3600.0
    assert governor.write_delay() == 0.0
    governor.record_write()
    assert governor.write_delay() == 1.0


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("GET", False),
        ("head", False),
        ("POST", True),
        ("patch", True),
        ("PUT", True),
        ("DELETE", True),
    ],
)
def test_which_requests_create_content(method: str, expected: bool) -> None:
    assert is_write(method) is expected
