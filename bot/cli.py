"""The ``selfimprove`` command: parse flags, run, print; user mistakes are one sentence."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.core import atomic, hardening, interrupt, sandbox_probe, secrets
from bot.core.errors import UserError
from methods.registry import NAMES as METHOD_NAMES

if TYPE_CHECKING:
    from bot.bundle.read import Change

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_NOT_DONE = 1
DEFAULT_IDENTITY = "selfimprove"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{message} (see 'selfimprove --help')")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="selfimprove",
        description="Find, prove and bundle small performance improvements to a Python project.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run_cmd = commands.add_parser("run", help="improve a project (use --dry-run for a local run)")
    run_cmd.add_argument("path", help="the project folder (a git repository or a folder in one)")
    run_cmd.add_argument(
        "--dry-run", action="store_true", help="touch no remote: write the bundle to disk only"
    )
    run_cmd.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="FILE[:FUNC]",
        help="improve this file or function (project-relative) instead of the profiled hot spots",
    )
    run_cmd.add_argument("--method", choices=METHOD_NAMES, help="how candidates are made")
    run_cmd.add_argument(
        "--json", action="store_true", help="print the result as one JSON document"
    )
    run_cmd.add_argument("--out", metavar="DIR", help="where the bundle goes (a folder per run)")
    run_cmd.add_argument("--max-targets", type=int, metavar="N", help="how many hot functions")
    run_cmd.add_argument("--interpreter", metavar="PYTHON", help="the target's Python")
    run_cmd.add_argument("--test-command", metavar="CMD", help="how to run the target's tests")
    run_cmd.add_argument(
        "--llm",
        metavar="SPEC",
        help="models to ask, in order, e.g. anthropic:<model>,openai:<model>,codemods",
    )
    run_cmd.add_argument(
        "--force",
        action="store_true",
        help="also improve functions that a merged selfimprove change wrote",
    )
    run_cmd.add_argument("--plan", metavar="FILE", help="a `selfimprove plan` file ('-': stdin)")
    run_cmd.add_argument("--shard", metavar="I/N", help="run only shard I of N of the --plan")
    _delivery_options(run_cmd)
    run_cmd.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run project and candidate code unconfined (recorded in the bundle and the PR)",
    )
    pin = commands.add_parser("pin", help="pin a bundle's patch to IPFS")
    _ipfs_options(pin)
    pin.add_argument("bundle", help="a change's .json or .patch, or a folder holding one")
    fetch = commands.add_parser("fetch", help="get a patch by CID and check it before writing")
    fetch.add_argument("cid")
    fetch.add_argument("--from", dest="source", required=True, metavar="URL", help="where from")
    fetch.add_argument(
        "--kubo", action="store_true", help="the URL is a Kubo RPC API, not an HTTP gateway"
    )
    fetch.add_argument("--out", required=True, metavar="FILE", help="where to write the bytes")
    clean = commands.add_parser("clean", help="remove worktrees left behind by a killed run")
    clean.add_argument("path", nargs="?", default=".", help="a folder in the repository")
    plan = commands.add_parser("plan", help="split the targets into shards: a GitHub matrix")
    plan.add_argument("path", help="the project folder (a git repository or a folder in one)")
    plan.add_argument("--shards", type=int, default=4, metavar="N", help="at most N shards")
    plan.add_argument("--out", metavar="FILE", help="also write the plan to FILE")
    plan.add_argument("--target", action="append", default=[], metavar="FILE[:FUNC]")
    plan.add_argument("--max-targets", type=int, metavar="N", help="how many hot functions")
    plan.add_argument("--interpreter", metavar="PYTHON", help="the target's Python")
    plan.add_argument("--test-command", metavar="CMD", help="how to run the target's tests")
    merge = commands.add_parser("merge", help="merge shards' bundles into one proven change")
    merge.add_argument("bundles", nargs="+", metavar="BUNDLE_DIR", help="folders of bundles")
    merge.add_argument("--out", required=True, metavar="DIR", help="where the merged bundle goes")
    merge.add_argument("--repo", default=".", help="the repository (default: here)")
    merge.add_argument(
        "--dry-run", action="store_true", help="write the merged bundle only, open no pull request"
    )
    _delivery_options(merge)
    deliver = commands.add_parser(
        "deliver", help="verify a bundle made elsewhere, then open or update its draft PR"
    )
    deliver.add_argument("bundle", metavar="BUNDLE_DIR", help="the folder a run or merge wrote")
    deliver.add_argument("--repo", default=".", help="the repository (default: here)")
    _trust_options(deliver)
    _github_options(deliver)
    commands.add_parser("action", help="handle the GitHub Actions event this step runs for")
    stats = commands.add_parser("stats", help="runs, acceptance and pull requests, from the ledger")
    stats.add_argument("--home", metavar="DIR", help="the bot's home (default $SELFIMPROVE_HOME)")
    commands.add_parser("doctor", help="say which sandbox this machine can make, or why none")
    serve = commands.add_parser("serve", help="the GitHub App's webhook endpoint")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (0: any)")
    serve.add_argument("--queue-size", type=int, default=32, help="deliveries waiting at most")
    serve.add_argument("--workers", type=int, default=2, help="threads handling deliveries")
    serve.add_argument(
        "--allow-bot", action="append", default=[], metavar="LOGIN", help="a bot that may command"
    )
    keygen = commands.add_parser("keygen", help="make an ed25519 key that signs bundles")
    keygen.add_argument("--path", help="where the private key goes (default: in the bot's home)")
    keygen.add_argument("--identity", default=DEFAULT_IDENTITY, help="who the key speaks for")
    for name, text in (
        ("verify", "check a bundle's signatures, digests, CID and base commit"),
        ("apply", "verify, then apply a bundle's patch on a new branch"),
        ("rollback", "verify, then apply a bundle's reverse patch on a new branch"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("bundle", help="a change's .json or .patch, or a folder holding one")
        command.add_argument("--repo", default=".", help="the repository (default: here)")
        _trust_options(command)
    return parser


def _github_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--repository",
        metavar="OWNER/NAME",
        help="open the draft pull request here (default: GITHUB_REPOSITORY; not with --dry-run)",
    )
    command.add_argument(
        "--push-remote", metavar="REMOTE", help="git remote or URL for the PR branch (origin)"
    )


def _ipfs_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--ipfs-api", metavar="URL", help="Kubo RPC API, e.g. http://127.0.0.1:5001"
    )
    command.add_argument(
        "--pinning-endpoint", metavar="URL", help="IPFS Pinning Service API endpoint"
    )


def _delivery_options(command: argparse.ArgumentParser) -> None:
    """What the delivery step needs, the same for every command that delivers (run, merge)."""
    command.add_argument("--signing-key", metavar="FILE", help="ed25519 key that signs the bundle")
    command.add_argument(
        "--sigstore",
        action="store_true",
        default=None,
        help="also sign each patch keylessly with the ambient OIDC identity (GitHub Actions)",
    )
    _github_options(command)
    _ipfs_options(command)


def _delivery_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`Flags` fields that :func:`_delivery_options` filled."""
    names = ("signing_key", "sigstore", "repository", "push_remote", "ipfs_api", "pinning_endpoint")
    return {name: getattr(args, name) for name in names}


def _trust_options(command: argparse.ArgumentParser) -> None:
    """Whom a bundle must come from: every command that checks one before using it."""
    command.add_argument("--allowed-signers", metavar="FILE", help="trusted keys")
    command.add_argument("--identity", default=DEFAULT_IDENTITY, help="expected signer")
    command.add_argument(
        "--sigstore-repository",
        metavar="OWNER/REPO",
        help="a <id>.sigstore.json must come from a GitHub Actions workflow of this repository",
    )


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from bot.config import Flags, build_request
    from bot.flow.progress import Progress
    from bot.flow.run import run  # the flow brings the gates' statistics (scipy)
    from bot.report.render import print_report
    from bot.shards.plan import shard_targets

    targets = tuple(args.target)
    if args.plan or args.shard:
        targets = shard_targets(args.plan, args.shard, args.target)
        if not targets:
            print(f"selfimprove: shard {args.shard} of the plan has no targets", file=sys.stderr)
            return 0
    flags = Flags(
        path=args.path,
        dry_run=args.dry_run,
        targets=targets,
        method=args.method,
        output_dir=args.out,
        interpreter=args.interpreter,
        test_command=args.test_command,
        max_targets=args.max_targets,
        llm=args.llm,
        force=args.force,
        sandbox=False if args.no_sandbox else None,
        **_delivery_flags(args),
    )
    request = build_request(flags)
    err = Console(stderr=True, highlight=False)
    progress = Progress(err)
    if not request.dry_run and request.github_repository is None:
        progress.note(
            "no GitHub repository (--repository, GITHUB_REPOSITORY or `repository` in the "
            "config): the bundle is the delivery"
        )
    result = run(request, progress)
    if args.json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    else:
        out = Console(highlight=False, soft_wrap=False)
        if not out.is_terminal:  # piped or redirected: no terminal width to fit, use a wide one
            out = Console(highlight=False, soft_wrap=False, width=140)
        print_report(result, out)
    return 0


def _plan(args: argparse.Namespace) -> int:
    from rich.console import Console

    from bot.config import Flags, build_request
    from bot.flow.progress import Progress
    from bot.shards.plan import make_plan

    flags = Flags(
        path=args.path,
        targets=tuple(args.target),
        interpreter=args.interpreter,
        test_command=args.test_command,
        max_targets=args.max_targets,
    )
    progress = Progress(Console(stderr=True, highlight=False))
    made, _ = make_plan(build_request(flags), args.shards, progress)
    for shard in made.shards:
        progress.note(f"shard {shard.label}: ~{shard.seconds:.0f}s, {', '.join(shard.targets)}")
    text = json.dumps(made.matrix(), separators=(",", ":"))
    if args.out:
        atomic.write_text(Path(args.out).expanduser(), text + "\n")
    print(text)
    return 0


def _merge(args: argparse.Namespace) -> int:
    from rich.console import Console

    from bot.config import Flags, request_at
    from bot.flow.progress import Progress
    from bot.shards.merge import merge_bundles

    out = Path(args.out).expanduser().resolve()
    progress = Progress(Console(stderr=True, highlight=False))
    flags = Flags(path=args.repo, dry_run=args.dry_run, **_delivery_flags(args))
    outcome = merge_bundles(
        [Path(b).expanduser() for b in args.bundles], out, progress, request_at(flags)
    )
    if outcome.merged is not None:
        print(f"merged {len(outcome.choice.kept)} changes into {outcome.merged.patch}")
    if outcome.pull_request is not None:
        print(f"pull request #{outcome.pull_request.number}: {outcome.pull_request.url}")
    else:
        print(f"{len(outcome.copied)} file(s) of {len(outcome.choice.kept)} change(s) in {out}")
    for note in outcome.notes:
        print(f"note: {note}")
    return 0


def _deliver(args: argparse.Namespace) -> int:
    """Verify every change of a bundle made elsewhere, then deliver it as ``run`` would."""
    from rich.console import Console

    from bot.bundle.read import find_changes, locate_change, same_base
    from bot.config import Flags, locate, request_at
    from bot.flow.deliver import deliver_bundle
    from bot.flow.progress import Progress

    folder = Path(args.bundle).expanduser().resolve()
    changes = find_changes([folder])
    if not changes:
        raise UserError(f"no change to deliver in {folder} (no <id>.json beside a <id>.patch)")
    base_commit, project = same_base(changes)
    root = locate(args.repo).repo_root
    for change in changes:
        _check_trust(args, locate_change(str(change.metadata)), root)
    made_by = changes[0].facts.get("run") or {}
    flags = Flags(
        path=args.repo,
        dry_run=False,
        method=made_by.get("method"),
        repository=args.repository,
        push_remote=args.push_remote,
    )
    specs = tuple(str(t) for t in made_by.get("targets", []))
    request = request_at(flags)(project, base_commit, specs, folder)
    if request.github_repository is None:
        raise UserError(
            "no GitHub repository to deliver to: pass --repository OWNER/NAME "
            "(or set GITHUB_REPOSITORY)"
        )
    progress = Progress(Console(stderr=True, highlight=False))
    result = deliver_bundle(request, [c.delivered() for c in changes], progress, folder.name)
    for note in result.notes:
        print(f"note: {note}")
    if result.pull_request is None:
        print(f"not delivered; the bundle in {folder} is intact: run this again later")
        return EXIT_NOT_DONE
    print(f"pull request #{result.pull_request.number}: {result.pull_request.url}")
    return 0


def _check_trust(args: argparse.Namespace, change: Change, root: Path) -> None:
    """Every check of ``verify``, printed; a failed one is a :class:`UserError`."""
    from bot.bundle.verify import allowed_signers_path, require, verify_change
    from bot.config import sigstore_repository

    checks = verify_change(
        change,
        root,
        allowed_signers_path(args.allowed_signers, root),
        args.identity,
        sigstore_repository=sigstore_repository(args.sigstore_repository, args.repo),
    )
    for check in checks:
        print(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
    require(checks, change)


def _keygen(args: argparse.Namespace) -> int:
    from bot.config import default_signing_key
    from bot.signing import ssh as signing

    path = Path(args.path).expanduser() if args.path else default_signing_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = signing.generate_key(path, args.identity)
    print(f"wrote {path} and {path}.pub")
    print("add this line to the allowed_signers file of everyone who verifies bundles:")
    print(line)
    return 0


def _verify(args: argparse.Namespace) -> int:
    from bot.bundle.apply import apply_change, rollback_change
    from bot.bundle.read import locate_change
    from bot.config import locate

    change = locate_change(args.bundle)
    root = locate(args.repo).repo_root
    _check_trust(args, change, root)
    if args.command == "verify":
        print(f"{change.id}: verified")
        return 0
    land = apply_change if args.command == "apply" else rollback_change
    branch = land(change, root)
    print(
        f"{change.id}: {'applied' if args.command == 'apply' else 'rolled back'} on branch {branch}"
    )
    return 0


def _pin(args: argparse.Namespace) -> int:
    from bot.bundle.publish import Endpoints, pin_file, publish
    from bot.bundle.read import locate_change

    change = locate_change(args.bundle)
    records = publish(change, Endpoints.from_env(args.ipfs_api, args.pinning_endpoint))
    for record in records:
        print(f"{record.service} {record.status}: {record.detail}")
    if all(r.pinned for r in records):
        return 0
    print(f"not pinned yet; the status is kept in {pin_file(change)}; run this again later")
    return EXIT_NOT_DONE


def _fetch(args: argparse.Namespace) -> int:
    from bot.ipfs.fetch import Source, write_fetched

    source = Source.kubo(args.source) if args.kubo else Source.gateway(args.source)
    path = write_fetched(args.cid, source, Path(args.out).expanduser())
    print(f"wrote {path}: its bytes match {args.cid}")
    return 0


def _action(args: argparse.Namespace) -> int:
    from bot.action import main as action_main  # GitHub libraries load only when needed

    return action_main(secrets.environ())


def _serve(args: argparse.Namespace) -> int:
    from bot.config import home_dir
    from bot.github.server import ServeSettings, serve
    from bot.github.webhook import require_secret

    if not 0 <= args.port <= 65535 or args.queue_size < 1 or args.workers < 1:
        raise UserError("--port must be 0-65535, --queue-size and --workers at least 1")
    env = secrets.environ()
    if not env.get("SELFIMPROVE_WEBHOOK_SECRET", "").strip():
        raise UserError("refusing to start without a webhook secret in SELFIMPROVE_WEBHOOK_SECRET")
    settings = ServeSettings(
        secret=require_secret(env["SELFIMPROVE_WEBHOOK_SECRET"]),
        env=env,
        api_url=env.get("GITHUB_API_URL") or None,
        queue_size=args.queue_size,
        workers=args.workers,
        allowed_bots=frozenset(args.allow_bot),
        seen_file=home_dir() / "webhook" / "seen-deliveries",
    )
    serve(settings, args.host, args.port, lambda url: print(f"listening on {url}", flush=True))
    return 0


def _stats(args: argparse.Namespace) -> int:
    from bot.config import home_dir
    from bot.report.stats import from_home, markdown

    print(markdown(from_home(Path(args.home).expanduser() if args.home else home_dir())), end="")
    return 0


def _clean(args: argparse.Namespace) -> int:
    from bot.config import home_dir, locate
    from bot.core.worktree import clean_stale

    checkout = locate(args.path)
    removed = clean_stale(checkout.repo_root, home_dir())
    print(f"removed {len(removed)} stale worktree(s)")
    for path in removed:
        print(f"  {path}")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    for line in sandbox_probe.report():
        print(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``selfimprove`` console script."""
    if argv is None:  # a process of its own (not a test calling in): secrets leave os.environ
        hardening.harden()
    with interrupt.handled():  # first thing: a Ctrl-C from here on is clean
        return _dispatch(argv)


def _dispatch(argv: Sequence[str] | None) -> int:
    try:
        args = _parser().parse_args(argv)
        handler = {
            "run": _run,
            "clean": _clean,
            "plan": _plan,
            "merge": _merge,
            "deliver": _deliver,
            "keygen": _keygen,
            "verify": _verify,
            "apply": _verify,
            "rollback": _verify,
            "pin": _pin,
            "fetch": _fetch,
            "action": _action,
            "serve": _serve,
            "stats": _stats,
            "doctor": _doctor,
        }[args.command]
        return handler(args)
    except UserError as exc:
        print(f"selfimprove: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("selfimprove: interrupted; worktrees removed, nothing half-written", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
