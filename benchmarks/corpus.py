"""selfimprove on real pure-Python packages from PyPI, with every method that works offline.

    python benchmarks/corpus.py [--work DIR] [--packages NAME ...] [--methods METHOD ...]
                                [--max-targets N] [--run-timeout S] [--suite-timeout S]
                                [--from-runs]

A quick run: ``--packages text-unidecode python-slugify --methods test-driven
--max-targets 3``. The whole corpus with every method is the default.

For each package the benchmark

1. downloads its sdist at a pinned version with pip (``--no-binary :all: --no-deps``) and
   checks its sha256;
2. unpacks it and commits it as a one-commit git repository;
3. makes it a venv of its own with pytest and its pinned runtime and test dependencies.
   The package itself is not installed: the git checkout is its only importable copy, so
   a test run in a worktree of it tests that worktree's code (an installed copy would be
   imported instead, and every mutant and candidate would go unseen);
4. runs its full suite once on the base (it must pass, or the package is reported and its
   checks skipped), then ``selfimprove run --dry-run --json --interpreter VENV`` once per
   method, reading the run's JSON document;
5. applies each accepted change to a fresh clone of the base and runs the full suite
   there: an accepted change that fails it is a broken one, and the goal is none.

Everything goes under the work folder (``--work``, default a folder in the system temp
dir), which is kept for inspection and reused by the next run: sdists, checkouts and
venvs are made only once. Model keys are removed from the runs' environment, so only the
offline generators (codemods and the like) make candidates.

The corpus, and why each package is in it (pure Python, a suite of its own that runs in
seconds to a minute, hot code of the kinds the generators work on):

* more-itertools: iterator recipes, many small module-level functions with loops and
  comprehensions; a large, fast suite.
* toolz: functional utilities (dict and sequence helpers) with tight loops; the tests
  live inside the package.
* tabulate: one module that formats tables, string building and per-cell loops.
* python-slugify: regular expressions applied in a hot path (regex hoisting, string work).
* humanize: number, size and time formatting, src layout, doctests in the suite.
* text-unidecode: table look-ups per character of a string, src layout, a tiny suite.
* cachetools: class-based (its targets are methods), src layout.
* inflect: class-based, the hot code is methods of one ``engine`` class (plural rules,
  string matching); the corpus's case for chaos and pinning on methods.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OFFLINE_METHODS = ("test-driven", "adversarial", "actor-critic", "chaos")
PYTEST = ("pytest==9.2.0", "iniconfig==2.3.1", "packaging==26.4", "pluggy==1.7.0")
PYTEST_DEPS = ("Pygments==2.21.0",)
OFFLINE_ENV_DROP = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_COMPATIBLE_API_KEY")
SCORE = re.compile(r"^(?P<key>\S+): mutation score (?P<killed>\d+)/(?P<total>\d+)")


@dataclass(frozen=True)
class Package:
    """A pinned sdist, the dependencies its suite needs, and how to run that suite."""

    name: str
    version: str
    sdist: str
    sha256: str
    deps: tuple[str, ...] = ()
    pytest_args: tuple[str, ...] = ()  # after ``python -m pytest -q``

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


CORPUS = (
    Package(
        "more-itertools",
        "11.2.1",
        "more_itertools-11.2.1.tar.gz",
        "cbf08fd0af284dc69718b9b76a8e6203df624d70209ea511e4219d350c856f63",
    ),
    Package(
        "toolz",
        "1.2.0",
        "toolz-1.2.0.tar.gz",
        "9667a038e9d6ecba37995e26cb2f59ec6420b6ad8dd9677de59db9b956b08490",
    ),
    Package(
        "tabulate",
        "0.10.0",
        "tabulate-0.10.0.tar.gz",
        "e2cfde8f79420f6deeffdeda9aaec3b6bc5abce947655d17ac662b126e48a60d",
        ("wcwidth==0.9.4",),
        ("--doctest-modules", "--ignore", "benchmark"),
    ),
    Package(
        "python-slugify",
        "9.2.0",
        "python_slugify-9.2.0.tar.gz",
        "cee32948083476013804de1667724fb1362dacb71e47b1d5d92adf8db6ee3298",
        ("text-unidecode==1.3",),
    ),
    Package(
        "humanize",
        "4.17.0",
        "humanize-4.17.0.tar.gz",
        "1d6a36c453dbfbb3f0b34601d2e0b4ce5d48d780305cd45714843f0068fde6ac",
        (
            "freezegun==1.5.5",
            "python-dateutil==4.0.0",
            "pytest-benchmark==5.3.1",
            "py-cpuinfo2==10.1.1",
            "tzdata==2026.6",
        ),
        ("--benchmark-disable",),
    ),
    Package(
        "text-unidecode",
        "1.3",
        "text-unidecode-1.3.tar.gz",
        "bad6603bb14d279193107714b288be206cac565dfa49aa5b105294dd5c4aab93",
        (),
        ("-o", "pythonpath=src"),
    ),
    Package(
        "cachetools",
        "8.0.2",
        "cachetools-8.0.2.tar.gz",
        "30ac523adfc118b51d2b2e7bad8a0ddb31370dfe2700c7f10ca224f36ccf81e0",
        (),
        ("-o", "pythonpath=src"),
    ),
    Package(
        "inflect",
        "7.6.0",
        "inflect-7.6.0.tar.gz",
        "b46875b50534a7cd5fcfb5a7c971bb93fe68948c43ca53e9833bd1e1a69221bd",
        (
            "jaraco.functools==4.6.0",
            "more-itertools==11.2.1",
            "typeguard==4.6.1",
            "typing_extensions==4.16.0",
        ),
    ),
)
BY_NAME = {package.name: package for package in CORPUS}


class SetupError(Exception):
    """A package could not be downloaded, checked, unpacked or given its venv."""


def log(message: str) -> None:
    print(f"[corpus] {message}", file=sys.stderr, flush=True)


def git(cwd: Path, *args: str) -> str:
    """Run git with a fixed identity; its stdout."""
    argv = ["git", "-c", "user.name=corpus", "-c", "user.email=corpus@localhost", *args]
    env = {**os.environ, "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z"}
    env["GIT_COMMITTER_DATE"] = env["GIT_AUTHOR_DATE"]
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SetupError(f"git {' '.join(args)} failed in {cwd}: {done.stderr.strip()}")
    return done.stdout


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(package: Package, sdists: Path) -> Path:
    """The pinned sdist, downloaded once and checked against its sha256 every time."""
    path = sdists / package.sdist
    if not path.exists():
        log(f"{package.label}: downloading the sdist")
        with tempfile.TemporaryDirectory(dir=sdists) as scratch:
            argv = [sys.executable, "-m", "pip", "download", "-q", "--no-deps"]
            argv += ["--no-binary", ":all:", "-d", scratch, f"{package.name}=={package.version}"]
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            got = Path(scratch) / package.sdist
            if done.returncode != 0 or not got.exists():
                raise SetupError(f"{package.label}: pip download failed: {done.stderr[-300:]}")
            got.replace(path)
    found = sha256_of(path)
    if found != package.sha256:
        path.unlink()
        raise SetupError(f"{package.label}: sha256 {found} is not the pinned {package.sha256}")
    return path


def checkout(package: Package, sdist: Path, src: Path) -> Path:
    """The unpacked sdist as a one-commit git repository (made once)."""
    repo = src / f"{package.name}-{package.version}"
    if (repo / ".git").is_dir() and git(repo, "tag", "--list", "corpus-base").strip():
        return repo
    log(f"{package.label}: unpacking into {repo}")
    shutil.rmtree(repo, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=src) as scratch, tarfile.open(sdist) as archive:
        archive.extractall(scratch, filter="data")
        (top,) = Path(scratch).iterdir()
        top.replace(repo)
    git(repo, "init", "-q", "-b", "main")
    with (repo / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write("__pycache__/\n*.pyc\n.pytest_cache/\n.benchmarks/\n")
    git(repo, "add", "-A", "-f", ".")  # -f: some sdists ignore files they ship
    git(repo, "commit", "-q", "-m", f"{package.label} from {package.sdist}")
    git(repo, "tag", "corpus-base")
    return repo


def venv(package: Package, venvs: Path) -> Path:
    """The package's own venv with pytest and its pinned dependencies; its python."""
    folder = venvs / package.name
    python = folder / "bin" / "python"
    stamp = folder / ".corpus-stamp"
    want = " ".join((sys.version, *PYTEST, *PYTEST_DEPS, *package.deps))
    if python.exists() and stamp.exists() and stamp.read_text() == want:
        return python
    log(f"{package.label}: building its venv")
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    argv = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    done = subprocess.run(
        [*argv, *PYTEST, *PYTEST_DEPS, *package.deps], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SetupError(f"{package.label}: pip install failed: {done.stderr[-300:]}")
    stamp.write_text(want)
    return python


@dataclass(frozen=True)
class Suite:
    passed: bool
    seconds: float
    tail: str


def run_suite(package: Package, python: Path, root: Path, timeout: float) -> Suite:
    """The package's full suite in ``root`` with its venv; passed means exit status 0."""
    argv = [str(python), "-m", "pytest", "-q", "--color=no", "-p", "no:cacheprovider"]
    argv += package.pytest_args
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    began = time.perf_counter()
    try:
        done = subprocess.run(
            argv, cwd=root, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return Suite(False, time.perf_counter() - began, f"timed out after {timeout:g}s")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return Suite(done.returncode == 0, time.perf_counter() - began, lines[-1] if lines else "")


@dataclass
class Outcome:
    """One selfimprove run on one package with one method, as the table shows it."""

    package: Package
    method: str
    wall: float = 0.0
    document: dict[str, Any] = field(default_factory=dict)
    problem: str = ""
    broken: list[str] = field(default_factory=list)
    checked: int = 0


def selfimprove_run(
    package: Package,
    python: Path,
    repo: Path,
    method: str,
    work: Path,
    max_targets: int | None,
    timeout: float,
) -> Outcome:
    """``selfimprove run --dry-run --json`` on the checkout; its JSON document."""
    outcome = Outcome(package, method)
    logs = work / "runs" / f"{package.name}-{method}"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    argv = [
        str(Path(sys.executable).with_name("selfimprove")),
        "run",
        str(repo),
        "--dry-run",
        "--json",
        "--method",
        method,
        "--interpreter",
        str(python),
        "--test-command",
        " ".join(("python", "-m", "pytest", "-q", *package.pytest_args)),
        "--out",
        str(logs / "out"),
    ]
    if max_targets is not None:
        argv += ["--max-targets", str(max_targets)]
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_ENV_DROP}
    env.pop("SELFIMPROVE_LLM", None)
    env["SELFIMPROVE_HOME"] = str(work / "home")
    log(f"{package.label}: selfimprove run --method {method}")
    began = time.perf_counter()
    try:
        done = subprocess.run(
            argv, cwd=repo, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        outcome.wall = time.perf_counter() - began
        outcome.problem = f"timed out after {timeout:g}s"
        return outcome
    outcome.wall = time.perf_counter() - began
    (logs / "stdout.json").write_text(done.stdout)
    (logs / "stderr.log").write_text(done.stderr)
    try:
        outcome.document = json.loads(done.stdout)
    except json.JSONDecodeError:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        outcome.problem = f"exit {done.returncode}: {tail[0]}"
    return outcome


def saved_run(package: Package, method: str, work: Path) -> Outcome:
    """The outcome of the last run of ``method`` on ``package``, from its saved document;
    the wall time is the run's own (its ``seconds``)."""
    outcome = Outcome(package, method)
    saved = work / "runs" / f"{package.name}-{method}" / "stdout.json"
    try:
        outcome.document = json.loads(saved.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        outcome.problem = f"no saved run ({type(exc).__name__})"
        return outcome
    outcome.wall = float(outcome.document.get("seconds", 0.0))
    return outcome


def check_accepted(outcome: Outcome, python: Path, repo: Path, work: Path, timeout: float) -> None:
    """Apply each accepted change to a fresh clone of the base; its full suite must pass."""
    base = outcome.document.get("base_commit")
    for accepted in outcome.document.get("accepted", []):
        fresh = work / "fresh" / f"{outcome.package.name}-{outcome.method}"
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.parent.mkdir(parents=True, exist_ok=True)
        name = f"{accepted['target']} ({accepted['rule']})"
        outcome.checked += 1
        try:
            git(repo, "clone", "-q", str(repo), str(fresh))
            git(fresh, "checkout", "-q", "--detach", str(base))
            git(fresh, "apply", str(accepted["patch"]))
        except SetupError as exc:
            outcome.broken.append(f"{name}: does not apply: {exc}")
            continue
        suite = run_suite(outcome.package, python, fresh, timeout)
        if not suite.passed:
            outcome.broken.append(f"{name}: {suite.tail}")
        shutil.rmtree(fresh, ignore_errors=True)


@dataclass(frozen=True)
class Row:
    """The table's columns for one outcome."""

    package: str
    method: str
    targets: str
    methods: str
    candidates: str
    speed: str
    chaos: str
    wall: str
    per_candidate: str
    perf_rejected: str
    broken: str


def row(outcome: Outcome) -> Row:
    doc = outcome.document
    wall = f"{outcome.wall:.0f}"
    if outcome.problem:
        label, problem = outcome.package.label, outcome.problem
        return Row(label, outcome.method, "-", "", problem, "", "", wall, "", "", "")
    targets = doc.get("targets", [])
    methods = sum("." in t["target"].split(":", 1)[1] for t in targets)
    bound = [t for t in targets if t.get("kind") in ("method", "static", "class")]
    candidates = doc.get("candidates", [])
    stopped = Counter(c["stopped_by"] for c in candidates if c.get("stopped_by"))
    by_gate = ", ".join(f"{gate} {n}" for gate, n in stopped.most_common())
    accepted_ids = {a["id"] for a in doc.get("accepted", [])}
    speed = [a for a in doc.get("accepted", []) if a.get("timing", {}).get("ratio")]
    ratios = ", ".join(f"{float(a['timing']['ratio']):.2f}x" for a in speed)
    chaos = [c for c in candidates if c.get("method") == "chaos" and c["id"] in accepted_ids]
    per = outcome.wall / len(candidates) if candidates else 0.0
    return Row(
        package=outcome.package.label,
        method=outcome.method,
        targets=f"{len(targets)} ({methods} methods)",
        methods=(
            f"{len(bound)} ({_workable(bound)})"
            if outcome.method == "chaos" and all("kind" in t for t in targets)
            else "-"
        ),
        candidates=f"{len(candidates)}" + (f": {by_gate}" if by_gate else ""),
        speed=f"{len(speed)}" + (f" ({ratios})" if ratios else ""),
        chaos=f"{len(chaos)}" + (f" ({mutation_scores(doc)})" if outcome.method == "chaos" else ""),
        wall=wall,
        per_candidate=f"{per:.1f}" if candidates else "-",
        perf_rejected=_rejected_verdict_seconds(candidates),
        broken=f"{len(outcome.broken)}/{outcome.checked}",
    )


def _rejected_verdict_seconds(candidates: list[dict[str, Any]]) -> str:
    """Median seconds the performance gate took to reject a candidate, and how many."""
    seconds = [
        float(g["seconds"])
        for c in candidates
        if c.get("stopped_by") == "performance"
        for g in c.get("gates", [])
        if g.get("gate") == "performance" and "seconds" in g
    ]
    return f"{statistics.median(seconds):.1f} ({len(seconds)})" if seconds else "-"


def _workable(methods: list[dict[str, Any]]) -> int:
    """Methods chaos could work on: a static or class method, or a method with at least one
    recorded call a test can make on a rebuilt receiver."""
    return sum(t["kind"] != "method" or (t.get("rebuilt_receivers") or 0) > 0 for t in methods)


def mutation_scores(doc: dict[str, Any]) -> str:
    """Killed/total over all targets, before -> after the accepted chaos tests.

    A target with a chaos candidate carries its scores in the candidate's provenance; the
    after score counts only if the candidate was accepted. A target without one (all
    mutants killed, or no distinguishing input found) has its score in the run's notes.
    """
    accepted = {a["id"] for a in doc.get("accepted", [])}
    before: dict[str, tuple[int, int]] = {}
    after: dict[str, tuple[int, int]] = {}
    for note in doc.get("notes", []):
        found = SCORE.match(note)
        if found:
            score = (int(found["killed"]), int(found["total"]))
            before[found["key"]] = after[found["key"]] = score
    for candidate in doc.get("candidates", []):
        provenance = candidate.get("provenance", {})
        if candidate.get("method") != "chaos" or "mutation_score_before" not in provenance:
            continue
        key = candidate["target"]
        before[key] = _score(provenance["mutation_score_before"])
        kept = candidate["id"] in accepted
        after[key] = _score(provenance["mutation_score_after"]) if kept else before[key]
    if not before:
        return "no mutants"
    total = sum(t for _, t in before.values())
    return (
        f"{sum(k for k, _ in before.values())}/{total} -> {sum(k for k, _ in after.values())}/"
        f"{total}"
    )


def _score(text: str) -> tuple[int, int]:
    killed, total = text.split("/")
    return int(killed), int(total)


HEADERS = Row(
    "package",
    "method",
    "targets",
    "methods (chaos could work on)",
    "candidates: stopped by gate",
    "accepted speed (ratios)",
    "chaos tests (mutation score)",
    "wall s",
    "s/candidate",
    "perf s/rejected (n)",
    "broken",
)


def print_table(outcomes: list[Outcome]) -> None:
    rows = [HEADERS, *(row(o) for o in outcomes)]
    columns = list(zip(*(vars(r).values() for r in rows), strict=True))
    widths = [max(len(str(cell)) for cell in column) for column in columns]
    for index, cells in enumerate(rows):
        print("  ".join(f"{c!s:<{w}}" for c, w in zip(vars(cells).values(), widths, strict=True)))
        if index == 0:
            print("  ".join("-" * w for w in widths))
    for outcome in outcomes:
        for broken in outcome.broken:
            print(f"BROKEN {outcome.package.label} {outcome.method}: {broken}")
    total = sum(len(o.broken) for o in outcomes)
    helped = {o.package.name for o in outcomes if o.document.get("accepted") and not o.problem}
    names = {o.package.name for o in outcomes}
    print(
        f"\npackages with an accepted change or chaos test: {len(helped)}/{len(names)}; "
        f"accepted changes that break their package's suite: {total} (goal 0)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_work = Path(tempfile.gettempdir()) / "selfimprove-corpus"
    parser.add_argument("--work", type=Path, default=default_work, help=f"({default_work})")
    parser.add_argument(
        "--packages", nargs="+", choices=list(BY_NAME), default=list(BY_NAME), metavar="NAME"
    )
    parser.add_argument(
        "--methods", nargs="+", choices=OFFLINE_METHODS, default=list(OFFLINE_METHODS)
    )
    parser.add_argument("--max-targets", type=int, help="cap the targets per run")
    parser.add_argument(
        "--run-timeout", type=float, default=3600.0, help="seconds per selfimprove run (3600)"
    )
    parser.add_argument(
        "--suite-timeout", type=float, default=600.0, help="seconds per suite run (600)"
    )
    parser.add_argument(
        "--from-runs",
        action="store_true",
        help="no new selfimprove runs: the table from the documents the last runs left in "
        "WORK/runs (accepted changes are still checked against the full suites)",
    )
    args = parser.parse_args()
    work: Path = args.work.resolve()
    folders = {name: work / name for name in ("sdists", "src", "venvs")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    outcomes: list[Outcome] = []
    for name in args.packages:
        package = BY_NAME[name]
        try:
            repo = checkout(package, fetch(package, folders["sdists"]), folders["src"])
            python = venv(package, folders["venvs"])
        except SetupError as exc:
            outcomes += [Outcome(package, m, problem=str(exc)) for m in args.methods]
            continue
        base = run_suite(package, python, repo, args.suite_timeout)
        log(
            f"{package.label}: base suite {'passed' if base.passed else 'FAILED'} in "
            f"{base.seconds:.1f}s: {base.tail}"
        )
        if not base.passed:
            why = f"the base suite fails: {base.tail}"
            outcomes += [Outcome(package, m, problem=why) for m in args.methods]
            continue
        for method in args.methods:
            if args.from_runs:
                outcome = saved_run(package, method, work)
            else:
                outcome = selfimprove_run(
                    package, python, repo, method, work, args.max_targets, args.run_timeout
                )
            if not outcome.problem:
                check_accepted(outcome, python, repo, work, args.suite_timeout)
            outcomes.append(outcome)
    print_table(outcomes)


if __name__ == "__main__":
    main()
