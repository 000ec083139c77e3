"""``selfimprove verify``: can a maintainer trust this bundle, before applying it?

Every check runs and is reported on its own line, so one failure does not hide another:
the signatures of the patch and of its metadata, the patch's sha256 and IPFS CID against
the metadata, the reverse patch likewise, both patches within the path policy (no
workflow, link, mode change, ``.git`` or outside path), and the base commit being
present in the repository.

Trust cannot be downgraded. With a trust file (``allowed_signers``) configured, every
file needs a valid SSH signature from it, and a sigstore bundle never stands in for a
missing one. Without a trust file, a sigstore bundle vouches for a file only when it is
pinned to the repository whose workflow must have signed it: any repository's workflow
can make a valid bundle.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git

from bot.bundle.read import Change
from bot.core.errors import UserError
from bot.core.path_policy import diff_breach
from bot.ipfs.cid import cid_of_bytes
from bot.signing import ssh as signing
from bot.signing.sigstore_trust import bundle_path
from bot.signing.sigstore_verify import check_sigstore_bundle, expected_repository

NO_TRUST_FILE = (
    "no allowed_signers file to check it against: pass --allowed-signers, set "
    "SELFIMPROVE_ALLOWED_SIGNERS or git's gpg.ssh.allowedSignersFile"
)
NOT_PINNED = (
    "a sigstore bundle alone shows only that some GitHub Actions workflow signed it: pass "
    "--sigstore-repository OWNER/REPO (or set `repository` in [tool.selfimprove]) to name "
    "the repository it must come from, or --allowed-signers to require SSH signatures"
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def allowed_signers_path(flag: str | None, repo_root: Path) -> Path | None:
    """The trust file: the flag, ``SELFIMPROVE_ALLOWED_SIGNERS``, or git's own setting.

    ``None`` when none is configured: a bundle signed only with sigstore needs none, and
    an SSH signature then fails its check with a sentence saying how to name one.
    """
    chosen = flag or os.environ.get("SELFIMPROVE_ALLOWED_SIGNERS")
    if not chosen:
        try:
            chosen = git.Repo(repo_root).git.config("--get", "gpg.ssh.allowedSignersFile")
        except git.GitCommandError:
            chosen = None
    if not chosen:
        return None
    path = Path(chosen).expanduser()
    if not path.is_file():
        raise UserError(f"allowed_signers file not found: {path}")
    return path


def _ssh(data: bytes, sig: Path, trusted: Path, identity: str, what: str) -> Check:
    if not sig.is_file():
        return Check(
            f"{what} signature",
            False,
            f"{sig.name} is missing: the {what} has no SSH signature, and with an "
            "allowed_signers file nothing else (a sigstore bundle included) stands in for one",
        )
    try:
        who = signing.verify(data, sig.read_text(), trusted, identity)
    except signing.SignatureError as exc:
        return Check(f"{what} signature", False, str(exc))
    return Check(f"{what} signature", True, f"signed by {who.identity} ({who.fingerprint})")


def _signed(
    data: bytes, path: Path, trusted: Path | None, identity: str, repository: str | None, what: str
) -> list[Check]:
    """The signature of one file: SSH when a trust file is configured, else pinned sigstore.

    With a trust file the SSH signature is required, and a sigstore bundle that is
    present is checked as well (both must hold). Without one, a run in GitHub Actions
    that signed with sigstore only (no SSH key there) is trusted through its bundle, if
    the bundle is pinned to a repository.
    """
    name = f"{what} signature"
    if trusted is not None:
        keyless = check_sigstore_bundle(path, data, repository)
        return [
            _ssh(data, path.with_name(path.name + ".sig"), trusted, identity, what),
            Check(f"{what} sigstore bundle", keyless.ok, keyless.detail),
        ]
    keyless_file = bundle_path(path)
    if not keyless_file.is_file():
        sig = path.with_name(path.name + ".sig")
        if sig.is_file():
            return [Check(name, False, NO_TRUST_FILE)]
        return [Check(name, False, f"{sig.name} and {keyless_file.name} are missing: unsigned")]
    if repository is None:
        return [Check(name, False, NOT_PINNED)]
    keyless = check_sigstore_bundle(path, data, repository)
    return [Check(name, keyless.ok, f"sigstore: {keyless.detail}")]


def _digests(data: bytes | None, facts: dict[str, Any], prefix: str, what: str) -> list[Check]:
    if data is None:
        return [Check(f"{what} present", False, f"the {what} file is missing")]
    checks = []
    sha = hashlib.sha256(data).hexdigest()
    expected = facts.get(f"{prefix}_sha256")
    checks.append(Check(f"{what} sha256", sha == expected, f"{sha} (metadata: {expected})"))
    if f"{prefix}_cid" in facts:
        cid = cid_of_bytes(data)
        expected = facts[f"{prefix}_cid"]
        checks.append(Check(f"{what} CID", cid == expected, f"{cid} (metadata: {expected})"))
    return checks


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def verify_change(
    change: Change,
    repo_root: Path,
    trusted: Path | None,
    identity: str,
    sigstore_repository: str | None = None,
) -> list[Check]:
    """Every check of one change, passed or not.

    The patch and the metadata each need a valid signature: SSH against ``trusted`` when
    it is given, else a sigstore bundle pinned to ``sigstore_repository`` (see
    :mod:`bot.signing.sigstore_verify`).
    """
    repository = expected_repository(sigstore_repository)
    patch = _read(change.patch)
    checks = []
    if patch is not None:
        checks += _signed(patch, change.patch, trusted, identity, repository, "patch")
    metadata = change.metadata.read_bytes()
    checks += _signed(metadata, change.metadata, trusted, identity, repository, "metadata")
    checks += _digests(patch, change.facts, "patch", "patch")
    reverse = _read(change.reverse_patch)
    checks += _digests(reverse, change.facts, "reverse_patch", "reverse patch")
    checks += _policy(change, patch, "patch") + _policy(change, reverse, "reverse patch")
    base = str(change.facts["base_commit"])
    try:
        git.Repo(repo_root).git.cat_file("-e", f"{base}^{{commit}}")
        checks.append(Check("base commit", True, f"{base[:12]} is in {repo_root}"))
    except git.GitCommandError:
        checks.append(Check("base commit", False, f"{base[:12]} is not in {repo_root}"))
    return checks


def path_breach(change: Change, data: bytes) -> str | None:
    """Why a patch of ``change`` breaks the path policy (:mod:`bot.core.path_policy`)."""
    project = str(change.facts.get("project", "."))
    return diff_breach(data.decode("utf-8", errors="replace"), project)


def _policy(change: Change, data: bytes | None, what: str) -> list[Check]:
    """A signature says who made a patch, not that it is harmless: the policy holds too."""
    if data is None:
        return []  # reported by the digest checks
    breach = path_breach(change, data)
    detail = breach or "only ordinary files inside the project, no link or mode change"
    return [Check(f"{what} path policy", breach is None, detail)]


def require(checks: list[Check], change: Change) -> None:
    """Raise with the first failure named when any check failed."""
    failed = [c for c in checks if not c.ok]
    if failed:
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise UserError(f"{change.id} failed {failed[0].name}: {failed[0].detail}{more}")
