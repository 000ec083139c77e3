"""The one runner of the one-shot harness scripts: its answer, or one reason there is none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.core.harness_script import run_script
from bot.core.request import Limits
from tests.conftest import commit_files, make_request

MODULES = {
    "good.py": "def f(x):\n    return x + 1\n",
    "crash.py": "import os\n\nos._exit(3)\n",
    "hang.py": "while True:\n    pass\n",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("script") / "repo"
    root.mkdir()
    commit_files(root, MODULES)
    return root


def _purity(project: Path, module: str, **limits: float) -> tuple[object, ...]:
    """The purity script on ``module:f``, with no captured calls for it."""
    request = make_request(project, limits=Limits(**limits))  # type: ignore[arg-type]
    capture = project.parent / "captures.json"
    capture.write_text(json.dumps({f"{module}:f": {"calls": []}}))
    ran = run_script(
        request,
        "selfimprove_purity.py",
        project,
        {"records": str(capture), "target": f"{module}:f"},
        import_roots=(".",),
        kind="purity",
        readable=(capture,),
    )
    return ran.answer, ran.problem, ran.timed_out


def test_an_answer_comes_back_as_the_scripts_json(project: Path) -> None:
    answer, problem, timed_out = _purity(project, "good")
    assert isinstance(answer, dict) and answer["calls"] == 0
    assert problem == "" and timed_out is False


def test_a_crash_or_a_hang_is_one_reason_and_no_answer(project: Path) -> None:
    answer, problem, timed_out = _purity(project, "crash")
    assert answer is None and not timed_out
    assert str(problem).startswith("exited 3: ")
    answer, problem, timed_out = _purity(project, "hang", replay_timeout=2)
    assert (answer, problem, timed_out) == (None, "did not finish in 2s", True)


def test_scratch_files_reach_the_script_and_out_keeps_the_answer(project: Path) -> None:
    request = make_request(project)
    capture = project.parent / "captures.json"
    capture.write_text(json.dumps({"good:f": {"calls": []}}))
    kept = project.parent / "kept" / "answer.json"
    kept.parent.mkdir()
    ran = run_script(
        request,
        "selfimprove_mutant_diff.py",
        project,
        {"capture": str(capture), "target": "good:f", "call_timeout": 1.0},
        import_roots=(".",),
        kind="chaos",
        readable=(capture,),
        files={"inputs_file": [{"args": ["41"], "kwargs": {}}]},
        out=kept,
    )
    assert ran.answer is not None, ran.problem
    assert json.loads(kept.read_text()) == ran.answer
    assert [o.get("result") for o in ran.answer["inputs"]] == ["42"], ran.answer
