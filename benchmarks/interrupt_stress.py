"""Ctrl-C and SIGTERM at evenly spread moments of a run: every one must stop it cleanly.

    python benchmarks/interrupt_stress.py [--moments 20] [--python PYTHON]

The tests' small project (``tests/small_project.py``: three hot functions the
codemods improve, and their tests) is committed to a fresh repository. One uninterrupted
dry run is timed first, then the run is started again ``--moments`` times and sent SIGINT
or SIGTERM (in turn)
at ``i / (moments + 1)`` of that duration: during profiling, capture, generation, each
gate and bundling. Each must end with exit 130 (or 0 when it finished before the signal
arrived), no worktree left, no traceback, and the user's tree and HEAD untouched.
Prints one row per moment (the stage the run had reached, the exit code, seconds from
the signal to exit) and the number of failures; exits non-zero when there is one.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.small_project import FILES  # noqa: E402


@dataclass(frozen=True)
class Outcome:
    moment: float
    signal: str
    stage: str
    code: int
    seconds_to_exit: float
    problems: tuple[str, ...]


def make_project(root: Path) -> Path:
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git = ["git", "-C", str(root), "-c", "user.name=b", "-c", "user.email=b@b"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    return root


def state(root: Path) -> tuple[str, str, str]:
    """HEAD, the porcelain status and the worktree list of the user's repository."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
        return done.stdout

    return git("rev-parse", "HEAD"), git("status", "--porcelain"), git("worktree", "list")


def start(python: str, project: Path, home: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "ACTIONS_"))}
    env["SELFIMPROVE_HOME"] = str(home)
    return subprocess.Popen(
        [python, "-m", "bot.cli", "run", "--dry-run", str(project), "--out", str(home / "out")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stage_reader(proc: subprocess.Popen[str], lines: list[str]) -> threading.Thread:
    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def last_stage(lines: list[str]) -> str:
    for line in reversed(lines):
        text = line.strip()
        if text.startswith("[") and "]" in text:
            return text.split("]", 1)[0] + "]" + text.split("]", 1)[1][:40]
    return "(starting)"


def one(python: str, project: Path, home: Path, after: float, sig: signal.Signals) -> Outcome:
    before = state(project)
    proc = start(python, project, home)
    lines: list[str] = []
    reader = stage_reader(proc, lines)
    time.sleep(after)
    stage = last_stage(lines)
    sent = time.perf_counter()
    if proc.poll() is None:
        proc.send_signal(sig)
    problems: list[str] = []
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        problems.append("still running 60 s after the signal")
        proc.kill()
        proc.wait()
    reader.join(timeout=5)
    waited = time.perf_counter() - sent
    err = "".join(lines)
    code = proc.returncode
    if code not in (130, 0):
        problems.append(f"exit {code}")
    if "Traceback" in err:
        problems.append("traceback")
    if state(project) != before:
        problems.append("the user's repository changed (HEAD, status or worktrees)")
    left = [p for p in (home / "worktrees").glob("*/*") if p.name != "owner.json"]
    if left:
        problems.append(f"{len(left)} worktree path(s) left")
    return Outcome(after, sig.name, stage, code, waited, tuple(problems))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moments", type=int, default=20)
    parser.add_argument("--python", default=sys.executable, help="runs `python -m bot.cli`")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="selfimprove-stress-") as tmp:
        base = Path(tmp)
        project = make_project(base / "repo")
        began = time.perf_counter()
        full = start(args.python, project, base / "home-full")
        _, err = full.communicate(timeout=900)
        duration = time.perf_counter() - began
        if full.returncode != 0:
            print(err)
            return 1
        print(f"uninterrupted run: {duration:.1f} s\n")
        print(f"{'moment':>7}  {'signal':8} {'exit':>4}  {'to exit':>8}  stage / problems")
        outcomes = []
        for i in range(1, args.moments + 1):
            sig = signal.SIGINT if i % 2 else signal.SIGTERM
            after = duration * i / (args.moments + 1)
            outcome = one(args.python, project, base / f"home-{i}", after, sig)
            outcomes.append(outcome)
            said = "; ".join(outcome.problems) or outcome.stage
            print(
                f"{after:6.1f}s  {outcome.signal:8} {outcome.code:>4}  "
                f"{outcome.seconds_to_exit:7.2f}s  {said}",
                flush=True,
            )
        failed = [o for o in outcomes if o.problems]
        slowest = max(o.seconds_to_exit for o in outcomes)
        print(f"\n{len(outcomes) - len(failed)} passed, {len(failed)} failed")
        print(f"slowest exit after the signal: {slowest:.2f} s")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
