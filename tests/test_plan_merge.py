"""Scale-out: the shard split, ``--shard`` checks, the merge rule on real diffs, and the
done-when of issue #4: ``plan`` + ``run --shard`` + ``merge`` accept the same changes as
one unsharded run, on a tiny real project in tmp.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import git
import pytest

from bot.bundle.read import find_changes, locate_change, same_base
from bot.bundle.verify import verify_change
from bot.bundle.write import write_change
from bot.config import Flags, request_at
from bot.core.candidate import Candidate, Target
from bot.core.diffs import make_diff
from bot.core.errors import UserError
from bot.core.evaluation import Evaluation, GateResult
from bot.flow.merge_rule import Proposal, choose, combine, overlap
from bot.flow.progress import Progress
from bot.shards.merge import merge_bundles
from bot.shards.plan import (
    Estimate,
    Plan,
    Shard,
    estimate,
    parse_shard,
    read_plan,
    shard_targets,
    split,
)
from bot.signing import ssh
from tests.conftest import CLI, cli_env, commit_files, make_request, run_cli
from tests.github.rest_standin import GitHubStandIn
from tests.ipfs_servers import KuboNode
from tests.sigstore_instance import SigstoreServices, Workflow

GATES = ("syntax", "style", "security", "types", "unit", "integration", "performance")


# --- the split ------------------------------------------------------------------------


def estimates(seconds: list[float]) -> list[Estimate]:
    return [
        Estimate(Target(f"src/m{i}.py", f"m{i}", "f"), 1, 1, 1, s) for i, s in enumerate(seconds)
    ]


def loads(plan: Plan, items: list[Estimate]) -> list[float]:
    by_spec = {e.spec: e.seconds for e in items}
    return [sum(by_spec[t] for t in shard.targets) for shard in plan.shards]


def test_split_is_balanced_and_covers_every_target_once() -> None:
    rng = random.Random(7)
    for _ in range(50):
        items = estimates([rng.uniform(1, 100) for _ in range(rng.randint(1, 15))])
        count = rng.randint(1, 6)
        plan = split(items, count)
        assert len(plan.shards) == min(count, len(items))
        specs = [t for shard in plan.shards for t in shard.targets]
        assert sorted(specs) == sorted(e.spec for e in items)
        spread = max(loads(plan, items)) - min(loads(plan, items))
        assert spread <= max(e.seconds for e in items) + 1e-9  # longest-first bound
        assert [s.label for s in plan.shards] == [
            f"{i}/{len(plan.shards)}" for i in range(1, len(plan.shards) + 1)
        ]


def test_split_balances_a_known_set_evenly() -> None:
    items = estimates([5, 3, 4, 5, 3, 4])
    assert loads(split(items, 3), items) == [8, 8, 8]


def test_split_is_deterministic_whatever_the_input_order() -> None:
    items = estimates([5, 5, 3, 3, 2, 8, 1, 5])
    first = split(items, 3)
    for seed in range(10):
        shuffled = list(items)
        random.Random(seed).shuffle(shuffled)
        assert split(shuffled, 3) == first


def test_no_targets_still_gives_one_shard_and_too_few_targets_fewer_shards() -> None:
    assert split([], 4).matrix() == {
        "include": [{"shard": "1/1", "targets": [], "estimated_seconds": 0.0}]
    }
    assert len(split(estimates([1, 2]), 5).shards) == 2
    with pytest.raises(UserError, match="--shards must be at least 1"):
        split(estimates([1]), 0)


def test_estimate_grows_with_candidates_calls_and_callers(tmp_path: Path) -> None:
    commit_files(tmp_path, {"m.py": "x = 1\n"})
    request = make_request(tmp_path)
    target = Target("m.py", "m", "f")
    row = {"calls": 10, "cumulative_seconds": 0.5}
    one = estimate(request, target, 1, 2.0, row, 1)
    assert estimate(request, target, 3, 2.0, row, 1).seconds > one.seconds
    busier = {"calls": 40, "cumulative_seconds": 2.0}  # the same time per call, more calls
    assert estimate(request, target, 1, 2.0, busier, 1).seconds > one.seconds
    assert estimate(request, target, 1, 2.0, row, 3).seconds > one.seconds
    assert estimate(request, target, 0, 2.0, row, 1).seconds == one.seconds  # at least one
    assert estimate(request, target, 1, 2.0, {**row, "calls": 500}, 1).captured_calls == 50


# --- --shard and --plan ---------------------------------------------------------------


@pytest.mark.parametrize("text", ["1/1", "2/3", "3/3", " 1/2 "])
def test_good_shard_values(text: str) -> None:
    index, count = parse_shard(text)
    assert 1 <= index <= count


@pytest.mark.parametrize("text", ["0/3", "4/3", "-1/2", "1/0", "a/b", "3", "1/2/3", "", "1/"])
def test_bad_shard_values_are_refused(text: str) -> None:
    with pytest.raises(UserError, match=r"--shard must be i/n with 1 <= i <= n"):
        parse_shard(text)


def write_plan(path: Path, *targets: tuple[str, ...]) -> Path:
    plan = Plan(tuple(Shard(i + 1, len(targets), t, 1.0) for i, t in enumerate(targets)))
    path.write_text(json.dumps(plan.matrix()))
    return path


def test_read_plan_round_trips_and_picks_the_shard(tmp_path: Path) -> None:
    path = write_plan(tmp_path / "plan.json", ("a.py:f", "b.py:g"), ("c.py:h",))
    plan = read_plan(str(path))
    assert plan.shard("2/2").targets == ("c.py:h",)
    assert plan.shard("1/2").targets == ("a.py:f", "b.py:g")
    with pytest.raises(UserError, match="does not fit the plan: it has 2 shard"):
        plan.shard("1/3")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("not json", "cannot read the plan"),
        ('{"include": []}', "no shards"),
        ('{"include": [{"shard": "1/1"}]}', "malformed"),
        (
            '{"include": [{"shard": "2/2", "targets": []}, {"shard": "1/2", "targets": []}]}',
            "labelled 2/2",
        ),
    ],
)
def test_malformed_plans_are_refused(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(text)
    with pytest.raises(UserError, match=fragment):
        read_plan(str(path))


@pytest.mark.parametrize(
    ("plan", "shard", "targets", "fragment"),
    [
        (True, "1/3", (), "does not fit the plan: it has 2 shard(s)"),
        (False, "1/2", (), "--plan and --shard go together"),
        (True, None, (), "--plan and --shard go together"),
        (True, "1/2", ("m.py:f",), "--target cannot be combined with --plan"),
    ],
)
def test_shard_flags_that_do_not_fit_are_refused(
    tmp_path: Path, plan: bool, shard: str | None, targets: tuple[str, ...], fragment: str
) -> None:
    path = str(write_plan(tmp_path / "plan.json", ("m.py:f",), ("m.py:g",)))
    with pytest.raises(UserError, match=re.escape(fragment)):
        shard_targets(path if plan else None, shard, targets)
    assert shard_targets(path, "2/2", ()) == ("m.py:g",)


def test_run_refuses_a_bad_shard_in_one_sentence(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo({"m.py": "def f():\n    return 1\n"})
    plan = write_plan(tmp_path / "plan.json", ("m.py:f",), ())
    done = run_cli(
        "run", "--dry-run", str(repo), "--plan", str(plan), "--shard", "3/2", cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("selfimprove: error:")]
    assert len(errors) == 1, done.stderr
    assert "--shard must be i/n with 1 <= i <= n (like 2/3), not '3/2'" in errors[0]


def test_an_empty_shard_runs_nothing(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    repo = make_repo({"m.py": "def f():\n    return 1\n"})
    plan = write_plan(tmp_path / "plan.json", ())
    done = run_cli(
        "run", "--dry-run", str(repo), "--plan", str(plan), "--shard", "1/1", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "has no targets" in done.stderr and "[profiling]" not in done.stderr


# --- the merge rule on real diffs -----------------------------------------------------

BASE = "".join(f"value_{i} = {i}\n" for i in range(1, 41))


def edit(line: int, text: str = BASE) -> str:
    """``text`` with line ``line`` (1-based) changed."""
    lines = text.splitlines(keepends=True)
    lines[line - 1] = lines[line - 1].replace(" = ", " = -")
    return "".join(lines)


def proposal(name: str, new: str, speedup: float, path: str = "m.py", old: str = BASE) -> Proposal:
    diff = make_diff(path, old, new)
    target = Target(path, path.removesuffix(".py"), name)
    candidate = Candidate(target, diff, (path,), "test-driven", "codemods", "rule", name)
    return Proposal(candidate, speedup, name)


def test_hunks_far_apart_do_not_overlap_and_combine_like_both_edits() -> None:
    a, b = proposal("a", edit(5), 2.0), proposal("b", edit(30), 1.5)
    assert not overlap(a, b)
    choice = choose([b, a])
    assert [p.candidate.target.qualname for p in choice.kept] == ["a", "b"]
    assert choice.dropped == ()
    assert combine(choice.kept, lambda path: BASE) == make_diff("m.py", BASE, edit(30, edit(5)))


def test_touching_hunks_overlap_and_one_line_apart_do_not() -> None:
    # A hunk is its change plus 3 lines of context each side: line 5 covers 2-8.
    first = proposal("a", edit(5), 2.0)
    touching = proposal("b", edit(12), 3.0)  # covers 9-15: starts right after 8
    apart = proposal("c", edit(13), 3.0)  # covers 10-16: line 9 between
    assert overlap(first, touching) and overlap(touching, first)
    assert not overlap(first, apart)


def test_overlapping_changes_keep_the_larger_speedup_in_any_order() -> None:
    slow, fast = proposal("slow", edit(10), 1.2), proposal("fast", edit(11), 2.4)
    other = proposal("other", edit(35), 1.1)
    for order in ([slow, fast, other], [other, fast, slow], [fast, other, slow]):
        choice = choose(order)
        assert [p.candidate.target.qualname for p in choice.kept] == ["fast", "other"]
        assert [(lo.origin, win.origin) for lo, win in choice.dropped] == [("slow", "fast")]


def test_the_same_change_twice_counts_once() -> None:
    a = proposal("a", edit(5), 2.0)
    assert choose([a, a]).kept == (a,)


def test_combined_diff_applies_with_git_and_gives_every_edit(tmp_path: Path) -> None:
    """Two files, one with two changes and no newline at its end: ``git apply`` takes it."""
    tail = BASE.rstrip("\n")
    parts = [
        proposal("a", edit(3), 2.0, "pkg/one.py"),
        proposal("b", edit(25), 1.8, "pkg/one.py"),
        proposal("c", edit(40, tail), 1.5, "pkg/two.py", tail),
    ]
    commit_files(tmp_path, {"pkg/one.py": BASE, "pkg/two.py": tail})
    bases = {"pkg/one.py": BASE, "pkg/two.py": tail}
    diff = combine(choose(parts).kept, bases.__getitem__)
    assert diff.index("pkg/one.py") < diff.index("pkg/two.py")
    (tmp_path / "merged.diff").write_text(diff)
    subprocess.run(["git", "apply", "merged.diff"], cwd=tmp_path, check=True)
    assert (tmp_path / "pkg/one.py").read_text() == edit(25, edit(3))
    assert (tmp_path / "pkg/two.py").read_text() == edit(40, tail)


def test_a_hunk_that_does_not_match_the_base_is_refused() -> None:
    stale = proposal("a", edit(5), 2.0)
    moved = "# a new first line\n" + BASE
    with pytest.raises(
        UserError, match=r"m-a-rule-\w+ does not apply to the base of m\.py at line 2"
    ):
        combine([stale], lambda path: moved)


# --- bundles --------------------------------------------------------------------------


def sample_bundle(
    repo: Path, folder: Path, name: str, new: str, ratio: float, path: str = "m.py", old: str = BASE
) -> Path:
    """A bundle written by the real bundle writer for an accepted change (gates given as data)."""
    request = make_request(repo, output_dir=folder)
    target = Target(path, path.removesuffix(".py").replace("/", "."), name)
    diff = make_diff(path, old, new)
    candidate = Candidate(target, diff, (path,), "test-driven", "codemods", "rule", name)
    perf = {"ratio": ratio, "ci_low": ratio - 0.5, "ci_high": ratio + 0.5, "p_value": 1e-6}
    results = tuple(
        GateResult(g, True, 0.1, "ok", perf if g == "performance" else {}) for g in GATES
    )
    return write_change(request, Evaluation(candidate, results, len(GATES)), folder).metadata


def test_bundles_are_read_back_as_the_changes_they_hold(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo({"m.py": BASE})
    sample_bundle(repo, tmp_path / "s1" / "run", "f", edit(5), 2.0)
    sample_bundle(repo, tmp_path / "s2" / "run", "g", edit(30), 3.0)
    found = find_changes([tmp_path / "s1", tmp_path / "s2"])
    assert [c.candidate.diff for c in found] == [
        make_diff("m.py", BASE, edit(5)),
        make_diff("m.py", BASE, edit(30)),
    ]
    assert [c.speedup for c in found] == [2.0, 3.0]
    assert same_base(found) == (found[0].base_commit, ".")


def test_bundles_from_different_bases_are_refused(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo({"m.py": BASE})
    sample_bundle(repo, tmp_path / "s1", "f", edit(5), 2.0)
    commit_files(repo, {"README": "moved on\n"}, "next")
    sample_bundle(repo, tmp_path / "s2", "g", edit(30), 3.0)
    with pytest.raises(UserError, match="different base commits"):
        same_base(find_changes([tmp_path / "s1", tmp_path / "s2"]))
    done = run_cli(
        "merge",
        str(tmp_path / "s1"),
        str(tmp_path / "s2"),
        "--out",
        str(tmp_path / "merged"),
        "--repo",
        str(repo),
        cwd=tmp_path,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "the bundles come from different base commits" in done.stderr


def test_a_tampered_patch_is_refused(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    repo = make_repo({"m.py": BASE})
    metadata = sample_bundle(repo, tmp_path / "s1", "f", edit(5), 2.0)
    patch = metadata.with_suffix(".patch")
    patch.write_text(patch.read_text().replace("-5", "-6"))
    with pytest.raises(UserError, match="does not match its sha256"):
        find_changes([tmp_path / "s1"])


def test_merge_keeps_the_faster_of_two_overlapping_bundles(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo({"m.py": BASE})
    sample_bundle(repo, tmp_path / "s1", "slow", edit(10), 1.2)
    fast = sample_bundle(repo, tmp_path / "s2", "fast", edit(11), 2.4)
    out = tmp_path / "merged"
    outcome = merge_bundles(
        [tmp_path / "s1", tmp_path / "s2"], out, Progress(), request_at(Flags(str(repo)))
    )
    assert outcome.merged is None and outcome.evaluations == []
    assert sorted(p.name for p in outcome.copied) == sorted(
        p.name for p in fast.parent.glob(fast.stem + ".*")
    )
    for copy in outcome.copied:
        assert copy.read_bytes() == (fast.parent / copy.name).read_bytes()
    summary = json.loads((out / "merge.json").read_text())
    assert [d["target"] for d in summary["dropped"]] == ["m:slow"]
    assert summary["dropped"][0]["overlaps"] == summary["parts"][0]["id"]


SUM_FILES = {
    "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['.']\n",
    "pkg/__init__.py": "",
    "pkg/a.py": "def f():\n    return 0\n",
    "pkg/b.py": "def g():\n    return 0\n",
    "tests/test_sum.py": (
        "from pkg import a, b\n\n\ndef test_not_both():\n    assert a.f() + b.g() < 2\n"
    ),
}


def test_a_whole_that_fails_keeps_the_parts_separate(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    """Each part keeps the suite green alone; together they fail it: the parts are copied."""
    repo = make_repo(SUM_FILES)
    one = sample_bundle(
        repo,
        tmp_path / "s1",
        "f",
        "def f():\n    return 1\n",
        2.0,
        "pkg/a.py",
        SUM_FILES["pkg/a.py"],
    )
    two = sample_bundle(
        repo,
        tmp_path / "s2",
        "g",
        "def g():\n    return 1\n",
        1.5,
        "pkg/b.py",
        SUM_FILES["pkg/b.py"],
    )
    out = tmp_path / "merged"
    outcome = merge_bundles(
        [tmp_path / "s1", tmp_path / "s2"], out, Progress(), request_at(Flags(str(repo)))
    )
    assert outcome.merged is None
    assert len(outcome.evaluations) == 1  # the first refusal ends the re-gating
    whole = outcome.evaluations[0]
    assert whole.candidate.rule == "merged" and whole.candidate.target.key == "pkg.a:f"
    assert whole.stopped_by is not None and whole.stopped_by.gate == "unit"
    assert whole.candidate.diff == make_diff(
        "pkg/a.py", SUM_FILES["pkg/a.py"], "def f():\n    return 1\n"
    ) + make_diff("pkg/b.py", SUM_FILES["pkg/b.py"], "def g():\n    return 1\n")
    assert {p.name for p in outcome.copied} >= {one.name, two.name}
    summary = json.loads((out / "merge.json").read_text())
    assert [p["target"] for p in summary["parts"]] == ["pkg.a:f", "pkg.b:g"]
    assert any("the parts are kept separate" in note for note in summary["notes"])
    assert summary["regate"][0]["stopped_by"] == "unit"


# --- done-when: plan + shards + merge == one unsharded run ----------------------------

WORDS_PY = '''\
"""Two hot functions with slow list membership, far apart in one file."""


def count_vowels(word):
    count = 0
    for ch in word:
        if ch in ["a", "e", "i", "o", "u", "A", "E", "I", "O", "U"]:
            count += 1
    return count


def spacer_one():
    return 1


def spacer_two():
    return 2


def is_keyword(word):
    return word in [
        "and", "as", "assert", "break", "class", "continue", "def", "del", "elif", "else",
        "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda",
    ]
'''
WORDS_TEST = """\
from pkg.words import count_vowels, is_keyword

BASE = ["shard", "merge", "plan", "rhythm", "queueing", "strengths", "lambda", "zebra"]
WORDS = [word + "x" * n for n in range(8) for word in BASE]  # no repeats: nothing to memoise


def test_count_vowels():
    assert [count_vowels(w) for w in WORDS][:4] == [1, 2, 1, 0]


def test_is_keyword():
    assert [is_keyword(w) for w in WORDS][:8] == [False] * 6 + [True, False]
"""
PROJECT = {
    "pyproject.toml": (
        "[tool.pytest.ini_options]\npythonpath = ['src']\n\n"
        "[tool.selfimprove.thresholds]\nrounds = 10\n"
    ),
    "src/pkg/__init__.py": "",
    "src/pkg/words.py": WORDS_PY,
    "tests/test_words.py": WORDS_TEST,
}


def start(*args: str, cwd: Path, home: Path) -> subprocess.Popen[str]:
    """``selfimprove ARGS`` as a real subprocess, started now and waited for later."""
    return subprocess.Popen(
        [*CLI, *args],
        cwd=cwd,
        env=cli_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    report: dict[str, Any] = json.loads(out)
    return report


def accepted(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(target, rule, diff sha256) of every delivered change, from its bundle metadata."""
    found = set()
    for change in report["accepted"]:
        meta = json.loads(Path(change["metadata"]).read_text())
        found.add((meta["target"], meta["rule"], meta["diff_sha256"]))
    return found


def applied(repo: Path, clone: Path, *patches: str) -> str:
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    for patch in patches:
        subprocess.run(["git", "apply", patch], cwd=clone, check=True)
    return (clone / "src/pkg/words.py").read_text()


@pytest.mark.timeout(1200)
def test_plan_shards_and_merge_accept_what_one_run_accepts(
    make_repo: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(PROJECT)
    home = tmp_path / "home"
    planned = run_cli(
        "plan",
        str(repo),
        "--shards",
        "2",
        "--out",
        str(tmp_path / "plan.json"),
        cwd=tmp_path,
        home=home,
    )
    assert planned.returncode == 0, planned.stderr
    matrix = json.loads(planned.stdout)
    assert matrix == json.loads((tmp_path / "plan.json").read_text())
    assert [entry["shard"] for entry in matrix["include"]] == ["1/2", "2/2"]
    assert sorted(t for entry in matrix["include"] for t in entry["targets"]) == [
        "src/pkg/words.py:count_vowels",
        "src/pkg/words.py:is_keyword",
    ]

    # The fan-out: the unsharded run and both shards at once, as separate jobs would.
    common = ("run", "--dry-run", str(repo), "--json")
    jobs = [start(*common, "--out", str(tmp_path / "all"), cwd=tmp_path, home=home)] + [
        start(
            *common,
            "--plan",
            str(tmp_path / "plan.json"),
            "--shard",
            shard,
            "--out",
            str(tmp_path / f"shard-{n}"),
            cwd=tmp_path,
            home=home,
        )
        for n, shard in enumerate(("1/2", "2/2"), 1)
    ]
    whole, *shards = [finish(job) for job in jobs]
    # One run merges its two changes to words.py into one and proves the whole again.
    (delivered,) = whole["accepted"]
    meta = json.loads(Path(delivered["metadata"]).read_text())
    assert meta["rule"] == "merged", "the example must have a clear gain on both targets"
    parts = set(meta["provenance"]["merged"].split(","))
    assert all(len(accepted(shard)) == 1 for shard in shards)
    assert {change["id"] for shard in shards for change in shard["accepted"]} == parts

    # The final job merges the shards and delivers the whole as one draft pull request,
    # through the same delivery step as a run: SSH-signed, sigstore-signed, pinned.
    remote = tmp_path / "remote.git"
    git.Repo(repo).clone(str(remote), bare=True)
    git.Repo(repo).create_remote("origin", str(remote))
    merged_dir = tmp_path / "merged"
    key = tmp_path / "keys" / "bot"
    key.parent.mkdir()
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(ssh.generate_key(key, "bot@example.com") + "\n")
    trust = tmp_path / "trust_config.json"
    with GitHubStandIn() as gh, SigstoreServices() as services, KuboNode() as kubo:
        trust.write_text(json.dumps(services.instance.trust_config()))
        gh.add_repo("octo/words", remote=remote)
        merged = run_cli(
            "merge",
            str(tmp_path / "shard-1"),
            str(tmp_path / "shard-2"),
            "--out",
            str(merged_dir),
            "--repo",
            str(repo),
            "--repository",
            "octo/words",
            "--signing-key",
            str(key),
            "--sigstore",
            "--ipfs-api",
            kubo.url,
            cwd=tmp_path,
            home=home,
            env={
                "GITHUB_TOKEN": gh.token,
                "GITHUB_API_URL": gh.url,
                "GITHUB_ACTIONS": "true",
                "ACTIONS_ID_TOKEN_REQUEST_URL": services.token_url,
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": SigstoreServices.REQUEST_TOKEN,
                "SELFIMPROVE_SIGSTORE_TRUST_CONFIG": str(trust),
            },
        )
        assert merged.returncode == 0, merged.stderr
        (pull,) = gh.repos["octo/words"].pulls
        assert len(kubo.seen("/api/v0/add")) == 1
    merged_meta = merged_dir / json.loads((merged_dir / "merge.json").read_text())["merged"]
    stem = merged_meta.name.removesuffix(".json")
    for signed_file in (f"{stem}.patch.sig", f"{stem}.json.sig", f"{stem}.sigstore.json"):
        assert (merged_dir / signed_file).is_file(), signed_file
    pins = json.loads((merged_dir / f"{stem}.pin.json").read_text())
    assert [p["status"] for p in pins] == ["pinned"], pins
    monkeypatch.setenv("SELFIMPROVE_SIGSTORE_TRUST_CONFIG", str(trust))
    checks = verify_change(
        locate_change(str(merged_meta)),
        repo,
        allowed,
        "bot@example.com",
        sigstore_repository=Workflow().repository,
    )
    assert [c for c in checks if not c.ok] == []
    assert f"pull request #{pull['number']}: " in merged.stdout and pull["draft"] is True
    summary = json.loads((merged_dir / "merge.json").read_text())
    assert {p["id"] for p in summary["parts"]} == parts
    assert summary["dropped"] == [] and all(v["accepted"] for v in summary["regate"])
    assert summary["merged"], summary["notes"]
    patch = str(merged_dir / summary["merged"]).removesuffix(".json") + ".patch"
    one_by_one = applied(repo, tmp_path / "clone-whole", *(c["patch"] for c in whole["accepted"]))
    assert applied(repo, tmp_path / "clone-merged", patch) == one_by_one
    branch = git.Repo(remote).commit(pull["head_sha"])
    assert branch.tree["src/pkg/words.py"].data_stream.read().decode() == one_by_one
    assert one_by_one.count("{") == 2 and one_by_one != WORDS_PY
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path / "clone-merged",
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout
