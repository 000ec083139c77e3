"""The cascade: a good candidate passes all seven gates; a bad one stops at the first failure."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.candidate import Target
from bot.core.request import Thresholds
from tests.conftest import GateBench
from validators import integration, performance, unit
from validators.cascade import GATE_NAMES, run_cascade

PYPROJECT = (
    "[tool.pytest.ini_options]\npythonpath = ['src']\n\n"
    "[tool.ruff]\nline-length = 100\n\n[tool.ruff.lint]\nselect = ['E', 'F']\n"
)
LISTED = "[" + ", ".join(str(7 * i) for i in range(40)) + "]"
MODULE = f'''"""Codes."""


def is_known(code: int) -> bool:
    """True for the codes we know."""
    return code in {LISTED}
'''
TESTS = (
    "from pkg.codes import is_known\n\n\n"
    "def test_known() -> None:\n"
    "    assert is_known(7)\n"
    "    assert sum(is_known(c) for c in range(1000, 1400)) == 0\n"
)
FILES = {
    "proj/pyproject.toml": PYPROJECT,
    "proj/src/pkg/__init__.py": "",
    "proj/src/pkg/codes.py": MODULE,
    "proj/tests/test_codes.py": TESTS,
}
TARGET = Target(file="src/pkg/codes.py", module="pkg.codes", qualname="is_known")
QUICK = Thresholds(rounds=12, sample_seconds=0.004)


@pytest.fixture
def bench(gate_bench: Callable[..., GateBench]) -> GateBench:
    return gate_bench(FILES, project="proj", capture=(TARGET,), thresholds=QUICK)


def test_good_candidate_passes_all_seven(bench: GateBench) -> None:
    faster = MODULE.replace(LISTED, "{" + LISTED[1:-1] + "}")
    seen: list[tuple[str, bool | None]] = []
    evaluation = run_cascade(
        bench.context({"src/pkg/codes.py": faster}, target=TARGET),
        on_gate=lambda name, r: seen.append((name, None if r is None else r.passed)),
    )
    assert [r.gate for r in evaluation.results] == list(GATE_NAMES)
    assert evaluation.accepted, evaluation.stopped_by
    assert evaluation.speedup > 1.5
    assert seen == [item for name in GATE_NAMES for item in ((name, None), (name, True))]


def test_first_failure_stops_the_cascade(bench: GateBench) -> None:
    unused_import = "import os\n" + MODULE.replace(LISTED, "{" + LISTED[1:-1] + "}")
    evaluation = run_cascade(bench.context({"src/pkg/codes.py": unused_import}, target=TARGET))
    assert not evaluation.accepted
    assert [r.gate for r in evaluation.results] == ["syntax", "style"]
    assert evaluation.stopped_by is not None and "F401" in evaluation.stopped_by.reason
    assert evaluation.result("performance") is None  # later gates never ran


def test_candidate_code_cannot_read_the_token(
    gate_bench: Callable[..., GateBench], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # unsandboxed, so the spy file reaches the host: the allowlisted environment alone
    bench = gate_bench(FILES, project="proj", capture=(TARGET,), thresholds=QUICK, sandbox=False)
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_do_not_leak")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-leak")
    spy = tmp_path / "seen-by-candidate.txt"
    snooping = MODULE + (
        "\n\nimport os\n\n"
        f"with open({str(spy)!r}, 'a') as _f:\n"
        "    _f.write(repr((os.environ.get('GITHUB_TOKEN'), os.environ.get('OPENAI_API_KEY'))))\n"
    )
    context = bench.context({"src/pkg/codes.py": snooping}, target=TARGET)
    for gate in (unit, integration, performance):
        gate.check(context)  # each runs the candidate's code in a subprocess
    seen = spy.read_text()
    assert seen.count("(None, None)") >= 3, seen
    assert "ghs_" not in seen and "sk-" not in seen
