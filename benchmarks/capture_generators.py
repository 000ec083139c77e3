"""What recording generator calls costs and yields: a project's suite bare and with capture.

    python benchmarks/capture_generators.py REPO --python PYTHON \\
        --target more_itertools/recipes.py:more_itertools.recipes:sieve ... [--rounds N]

``REPO`` is a git checkout (cloned to a temporary folder first, so it is never written to);
``PYTHON`` the interpreter its suite runs in. The suite is run bare and with capture of the
targets, in turn, ``--rounds`` times each. Prints the median wall times and their ratio,
then per target: the calls seen, the calls recorded, the generator records among them
(those run to their end, and prefixes), their items in all, and the calls not recorded
(``unpicklable``, which counts generator calls past the caps or sent values too).

For example, more-itertools 11.2.1 as ``benchmarks/corpus.py --work W`` left it::

    python benchmarks/capture_generators.py W/src/more-itertools-11.2.1 \\
        --python W/venvs/more-itertools/bin/python \\
        --target more_itertools/recipes.py:more_itertools.recipes:sieve \\
        --target more_itertools/recipes.py:more_itertools.recipes:iter_index
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import git

from bot.core.candidate import Target
from bot.core.request import Request
from bot.core.testrun import run_suite


def _target(text: str) -> Target:
    file, module, qualname = text.split(":")
    return Target(file, module, qualname)


def _request(root: Path, python: str, scratch: Path) -> Request:
    return Request(
        repo_root=root,
        project=".",
        base_commit=git.Repo(root).head.commit.hexsha,
        interpreter=python,
        test_command=("python", "-m", "pytest", "-q"),
        output_dir=scratch / "out",
        home=scratch / "home",
    )


def _row(key: str, capture: dict[str, Any]) -> list[str]:
    calls = capture.get("calls", [])
    generators = [c for c in calls if "yields" in c]
    whole = sum(bool(c["exhausted"]) for c in generators)
    items = sum(int(c["yields"]) for c in generators)
    cells = (capture.get("seen", 0), len(calls), whole, len(generators) - whole, items)
    return [key, *(str(n) for n in cells), str(capture.get("unpicklable", 0))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--python", required=True)
    parser.add_argument("--target", action="append", required=True, type=_target)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="selfimprove-capture-bench-") as folder:
        scratch = Path(folder)
        root = scratch / "repo"
        subprocess.run(["git", "clone", "-q", str(args.repo), str(root)], check=True)
        request = _request(root, args.python, scratch)
        seconds: dict[str, list[float]] = {"bare": [], "capture": []}
        captures: dict[str, Any] = {}
        for _ in range(args.rounds):
            for kind in seconds:
                began = time.perf_counter()
                ran = run_suite(request, root, capture=args.target if kind == "capture" else ())
                seconds[kind].append(time.perf_counter() - began)
                captures = ran.captures or captures
    bare, captured = (statistics.median(seconds[k]) for k in ("bare", "capture"))
    print("| suite | median wall s |\n|---|---|")
    print(f"| bare | {bare:.1f} |\n| capture | {captured:.1f} ({captured / bare:.2f}x) |\n")
    print("| target | seen | recorded | generator, to the end | prefix | items | not recorded |")
    print("|---|---|---|---|---|---|---|")
    for key, capture in captures.items():
        print("| " + " | ".join(_row(key, capture)) + " |")


if __name__ == "__main__":
    main()
