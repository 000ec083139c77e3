"""A maintainer's path with a signed bundle: keygen, verify, apply, rollback, on real git."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.bundle import apply
from bot.bundle.read import locate_change
from bot.bundle.verify import verify_change
from bot.bundle.write import write_change
from bot.core.candidate import Candidate, Target
from bot.core.diffs import make_diff, new_file_diff
from bot.core.errors import UserError
from bot.core.evaluation import Evaluation, GateResult
from bot.ipfs.cid import cid_of_bytes
from bot.report.results import Delivered
from tests.conftest import make_request, run_cli

OLD = "def f(x):\n    return x in [1, 2, 3, 4]\n"
NEW = "def f(x):\n    return x in {1, 2, 3, 4}\n"
GATES = ("syntax", "style", "security", "types", "unit", "integration", "performance")


@dataclasses.dataclass
class Setup:
    repo: Path
    home: Path
    allowed: Path
    change: Delivered


def write_sample_change(
    repo: Path, folder: Path, key: Path | None, home: Path, extra: str = ""
) -> Delivered:
    """A bundle for a small accepted change to ``pkg/mod.py`` (gate results given as data)."""
    request = make_request(repo, signing_key=key, home=home)
    target = Target("pkg/mod.py", "pkg.mod", "f")
    diff = make_diff("pkg/mod.py", OLD, NEW) + extra
    candidate = Candidate(
        target, diff, ("pkg/mod.py",), "test-driven", "codemods", "membership-set", "set"
    )
    perf = {"ratio": 3.0, "ci_low": 2.5, "ci_high": 3.5, "p_value": 1e-8, "calls": 5, "rounds": 20}
    results = tuple(
        GateResult(g, True, 0.1, "ok", perf if g == "performance" else {}) for g in GATES
    )
    return write_change(request, Evaluation(candidate, results, len(GATES)), folder)


@pytest.fixture
def setup(make_repo: Callable[..., Path], tmp_path: Path) -> Setup:
    repo = make_repo({"pkg/mod.py": OLD})
    home = tmp_path / "home"
    key = tmp_path / "keys" / "bot"
    made = run_cli("keygen", "--path", str(key), "--identity", "bot@example.com", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(made.stdout.splitlines()[-1] + "\n")
    change = write_sample_change(repo, tmp_path / "bundle", key, home)
    return Setup(repo, home, allowed, change)


def cli(setup: Setup, *args: str) -> subprocess.CompletedProcess[str]:
    extra = ["--allowed-signers", str(setup.allowed), "--identity", "bot@example.com"]
    return run_cli(*args, *extra, "--repo", str(setup.repo), cwd=setup.repo, home=setup.home)


def test_bundle_records_digest_cid_and_signatures(setup: Setup) -> None:
    patch = setup.change.patch.read_bytes()
    assert setup.change.patch_cid == cid_of_bytes(patch)
    assert setup.change.signature is not None and setup.change.signature.exists()
    assert setup.change.metadata.with_name(setup.change.metadata.name + ".sig").exists()


@pytest.mark.skipif(
    shutil.which("ssh-keygen") is None, reason="OpenSSH ssh-keygen is not installed"
)
def test_stock_ssh_keygen_verifies_the_patch(setup: Setup) -> None:
    assert setup.change.signature is not None
    with setup.change.patch.open("rb") as data:
        done = subprocess.run(
            ["ssh-keygen", "-Y", "verify", "-f", str(setup.allowed), "-I", "bot@example.com",
             "-n", "selfimprove", "-s", str(setup.change.signature)],
            stdin=data, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Good" in done.stdout


def test_verify_then_apply_then_rollback(setup: Setup) -> None:
    verified = cli(setup, "verify", str(setup.change.metadata))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.count("ok  ") >= 6 and "FAIL" not in verified.stdout

    applied = cli(setup, "apply", str(setup.change.patch))
    assert applied.returncode == 0, applied.stderr
    assert (setup.repo / "pkg" / "mod.py").read_text() == NEW
    branch = subprocess.run(
        ["git", "branch", "--show-current"], cwd=setup.repo, capture_output=True, text=True
    )
    assert branch.stdout.strip().startswith("selfimprove/")

    again = cli(setup, "apply", str(setup.change.patch))
    assert again.returncode == 2 and "already applied" in again.stderr

    rolled = cli(setup, "rollback", str(setup.change.metadata))
    assert rolled.returncode == 0, rolled.stderr
    assert (setup.repo / "pkg" / "mod.py").read_bytes() == OLD.encode()


def test_apply_refuses_a_dirty_tree(setup: Setup) -> None:
    (setup.repo / "pkg" / "mod.py").write_text(OLD + "# local edit\n")
    done = cli(setup, "apply", str(setup.change.metadata))
    assert done.returncode == 2 and "uncommitted changes" in done.stderr
    assert "Traceback" not in done.stderr
    assert (setup.repo / "pkg" / "mod.py").read_text() == OLD + "# local edit\n"


@pytest.mark.parametrize("which", ["patch", "metadata", "signature"])
def test_one_byte_tamper_is_rejected(setup: Setup, which: str) -> None:
    assert setup.change.signature is not None
    path = {
        "patch": setup.change.patch,
        "metadata": setup.change.metadata,
        "signature": setup.change.signature,
    }[which]
    data = bytearray(path.read_bytes())
    # the middle byte; for the JSON, one hex digit of the recorded digest, so it still parses
    index = data.index(b'"patch_sha256": "') + 20 if which == "metadata" else len(data) // 2
    data[index] = ord("a") if data[index] != ord("a") else ord("b")
    path.write_bytes(bytes(data))
    done = cli(setup, "verify", str(setup.change.metadata))
    assert done.returncode == 2
    assert "FAIL" in done.stdout and "Traceback" not in done.stderr
    applied = cli(setup, "apply", str(setup.change.metadata))
    assert applied.returncode == 2
    assert (setup.repo / "pkg" / "mod.py").read_text() == OLD


def test_untrusted_key_is_rejected(setup: Setup, tmp_path: Path) -> None:
    other = run_cli(
        "keygen", "--path", str(tmp_path / "k2"), "--identity", "bot@example.com", cwd=tmp_path
    )
    setup.allowed.write_text(other.stdout.splitlines()[-1] + "\n")
    done = cli(setup, "verify", str(setup.change.metadata))
    assert done.returncode == 2
    assert "not trusted for 'bot@example.com'" in done.stdout


def test_unknown_base_commit_is_named(setup: Setup, make_repo: Callable[..., Path]) -> None:
    elsewhere = make_repo({"other.txt": "x\n"}, name="elsewhere")
    extra = ["--allowed-signers", str(setup.allowed), "--identity", "bot@example.com"]
    done = run_cli(
        "verify", str(setup.change.metadata), *extra, "--repo", str(elsewhere), cwd=elsewhere
    )
    assert done.returncode == 2
    assert "FAIL  base commit" in done.stdout


# -- the path policy holds for signed bundles too ---------------------------------------

WORKFLOW = new_file_diff(".github/workflows/evil.yml", "on: push\njobs: {}\n")
SYMLINK = (
    "diff --git a/pkg/secrets.py b/pkg/secrets.py\nnew file mode 120000\n"
    "--- /dev/null\n+++ b/pkg/secrets.py\n@@ -0,0 +1 @@\n+/etc/passwd\n"
    "\\ No newline at end of file\n"
)
MODE = "diff --git a/pkg/mod.py b/pkg/mod.py\nold mode 100644\nnew mode 100755\n"
HOOK = new_file_diff(".git/hooks/post-checkout", "#!/bin/sh\n")
OUTSIDE = new_file_diff("other/mod.py", "x = 1\n")


def hostile(setup: Setup, tmp_path: Path, extra: str, project: str = ".") -> Delivered:
    """A correctly signed bundle whose patch also does ``extra``."""
    key = tmp_path / "keys" / "bot"
    change = write_sample_change(setup.repo, tmp_path / "hostile", key, setup.home, extra)
    if project != ".":
        text = change.metadata.read_text().replace('"project": "."', f'"project": "{project}"')
        assert text != change.metadata.read_text()
        change.metadata.write_text(text)  # (verify would now fail: apply is called directly)
    return change


@pytest.mark.parametrize(
    ("extra", "landed", "reason"),
    [
        (WORKFLOW, ".github/workflows/evil.yml", ".github/workflows/evil.yml is a CI workflow"),
        (SYMLINK, "pkg/secrets.py", "pkg/secrets.py is a symbolic link"),
    ],
)
def test_apply_refuses_a_signed_patch_outside_the_policy(
    setup: Setup, tmp_path: Path, extra: str, landed: str, reason: str
) -> None:
    change = hostile(setup, tmp_path, extra)
    located = locate_change(str(change.metadata))
    checks = {
        c.name: c for c in verify_change(located, setup.repo, setup.allowed, "bot@example.com")
    }
    assert checks["patch signature"].ok and checks["metadata signature"].ok  # not enough:
    assert [n for n, c in checks.items() if not c.ok] == [
        "patch path policy",
        "reverse patch path policy",
    ]
    assert checks["patch path policy"].detail.startswith(reason)
    done = cli(setup, "apply", str(change.metadata))
    assert done.returncode == 2, done.stdout
    assert f"failed patch path policy: {reason}" in done.stderr
    assert "Traceback" not in done.stderr
    assert (setup.repo / "pkg" / "mod.py").read_text() == OLD
    assert not os.path.lexists(setup.repo / landed)
    expected = f"{change.reverse_patch.name} is refused by the path policy: {reason}"
    with pytest.raises(UserError, match=re.escape(expected)):
        apply.rollback_change(located, setup.repo)


@pytest.mark.parametrize(
    ("extra", "project", "check"),
    [
        (WORKFLOW, ".", lambda repo: (repo / ".github/workflows/evil.yml").is_file()),
        (SYMLINK, ".", lambda repo: (repo / "pkg/secrets.py").is_symlink()),
        (MODE, ".", lambda repo: bool((repo / "pkg/mod.py").stat().st_mode & 0o100)),
        (OUTSIDE, "pkg", lambda repo: (repo / "other/mod.py").is_file()),
    ],
)
@pytest.mark.parametrize("policy", ["on", "off"])
def test_without_the_policy_a_signed_patch_lands_anything(
    setup: Setup,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    policy: str,
    extra: str,
    project: str,
    check: Callable[[Path], bool],
) -> None:
    if policy == "off":
        monkeypatch.setattr(apply, "path_breach", lambda *args: None)
    change = locate_change(str(hostile(setup, tmp_path, extra, project).metadata))
    if policy == "off":
        apply.apply_change(change, setup.repo)
        assert check(setup.repo)
        return
    with pytest.raises(UserError, match="is refused by the path policy"):
        apply.apply_change(change, setup.repo)
    assert not check(setup.repo)


def test_apply_refuses_a_patch_into_git_s_own_folder(setup: Setup, tmp_path: Path) -> None:
    change = locate_change(str(hostile(setup, tmp_path, HOOK).metadata))
    with pytest.raises(UserError, match=r"\.git/hooks/post-checkout is inside git's own folder"):
        apply.apply_change(change, setup.repo)
