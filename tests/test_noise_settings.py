"""Noise-control settings: defaults, [tool.selfimprove], action inputs, and one-sentence errors;
the skip marks and the profile share that the targets carry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.action_inputs import build, read_inputs
from bot.config import Flags, build_request
from bot.core.candidate import Candidate, Target
from bot.core.errors import UserError
from bot.core.request import NoiseControl
from bot.core.source_marks import function_source, skip_reason
from bot.flow.targets import rank_profiled
from bot.github.noise import change_key, family
from tests.conftest import make_request

CONFIG = """[tool.selfimprove]
max-open-prs = 1
max-prs-per-day = 2
min-impact = 0.02
group = "file"
dashboard = false
pr-creation = "approval"
"""


def test_defaults_then_config_then_action_inputs(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    plain = build_request(Flags(path=str(make_repo({"m.py": "x = 1\n"}))))
    assert plain.noise == NoiseControl()
    assert (plain.noise.max_open_prs, plain.noise.min_impact, plain.noise.group) == (
        3,
        0.005,
        "run",
    )
    root = make_repo({"pyproject.toml": CONFIG, "m.py": "x = 1\n"}, name="configured")
    configured = build_request(Flags(path=str(root), force=True)).noise
    assert configured == NoiseControl(1, 2, 0.02, "file", False, "approval", True)
    env = {"INPUT_MIN_IMPACT": "1%", "INPUT_GROUP": "target", "INPUT_DASHBOARD": "true"}
    inputs = read_inputs({**env, "INPUT_PATH": "configured"})
    from_action = build(inputs, tmp_path, tmp_path / "keys").noise
    assert (from_action.min_impact, from_action.group, from_action.dashboard) == (
        0.01,
        "target",
        True,
    )
    assert (from_action.max_open_prs, from_action.pr_creation) == (1, "approval")


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("group = 'module'", "'group'"),
        ("pr-creation = 'later'", "'pr-creation'"),
        ("min-impact = 5", "'min-impact'"),
        ("max-open-prs = -1", "'max-open-prs'"),
        ("dashboard = 'yes'", "'dashboard'"),
    ],
)
def test_a_wrong_setting_is_one_sentence(
    make_repo: Callable[..., Path], line: str, named: str
) -> None:
    root = make_repo({"pyproject.toml": f"[tool.selfimprove]\n{line}\n"})
    with pytest.raises(UserError, match=named):
        build_request(Flags(path=str(root)))


def test_a_wrong_input_is_one_sentence() -> None:
    with pytest.raises(UserError, match="max-open-prs input"):
        read_inputs({"INPUT_MAX_OPEN_PRS": "three"})
    with pytest.raises(UserError, match="min-impact input"):
        read_inputs({"INPUT_MIN_IMPACT": "a lot"})


SOURCE = '''"""A module."""


class Box:
    @staticmethod
    def size(x):  # selfimprove: skip
        return x

    def other(self):
        return 1


def free(x):
    return x
'''


def test_skip_marks_on_a_def_line_or_at_the_top_of_a_file() -> None:
    assert skip_reason(SOURCE, "Box.size") == "its def line is marked `# selfimprove: skip`"
    assert skip_reason(SOURCE, "Box.other") is None and skip_reason(SOURCE, "free") is None
    marked = "# generated helpers\n# selfimprove: skip\n" + SOURCE
    assert skip_reason(marked, "free") == "its file is marked `# selfimprove: skip`"
    late = SOURCE + "# selfimprove: skip\n"
    assert skip_reason(late, "free") is None  # only the file's leading comments count
    assert function_source(SOURCE, "Box.size") == (
        "    @staticmethod\n    def size(x):  # selfimprove: skip\n        return x\n"
    )


def test_ranked_targets_carry_their_share_and_skip_marks_leave_them_out(
    make_repo: Callable[..., Path],
) -> None:
    root = make_repo({"pkg/mod.py": SOURCE})
    rows = [
        {
            "file": "pkg/mod.py",
            "module": "pkg.mod",
            "qualname": q,
            "line": 1,
            "calls": 3,
            "own_seconds": 0.1,
            "cumulative_seconds": seconds,
        }
        for q, seconds in (("Box.size", 2.0), ("free", 0.5), ("Box.other", 0.25))
    ]
    ranked = rank_profiled(make_request(root), root, rows, suite_seconds=5.0)
    assert [(t.qualname, t.profile_share) for t in ranked] == [("free", 0.1), ("Box.other", 0.05)]


def test_a_change_is_remembered_by_its_function_source_and_rule_or_model_family() -> None:
    target = Target(file="m.py", module="m", qualname="f")

    def made(rule: str, **provenance: str) -> Candidate:
        return Candidate(target, "", ("m.py",), "test-driven", "llm", rule, "", provenance)

    dated = made("llm-rewrite", provider="openai", model="gpt-4o-2024-08-06")
    plain = made("llm-rewrite", provider="openai", model="gpt-4o")
    other = made("llm-rewrite", provider="openai", model="gpt-4.1")
    codemod = made("builtin-sum")
    assert family(dated) == family(plain) == "model:openai:gpt-4o"
    assert family(other) != family(plain) and family(codemod) == "rule:builtin-sum"
    source = "def f(xs):\n    return xs\n"
    assert change_key(source, family(dated)) == change_key(source, family(plain))
    assert change_key(source, family(codemod)) != change_key(source, family(plain))
    assert change_key(source + "\n", family(plain)) != change_key(source, family(plain))
