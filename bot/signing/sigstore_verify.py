"""Check a change's ``<id>.sigstore.json`` offline, as ``sigstore verify github --offline`` does.

The policy is the one the stock CLI builds: the certificate's OIDC issuer must be GitHub
Actions and, when an expected repository is given (``--sigstore-repository owner/repo``,
``SELFIMPROVE_SIGSTORE_REPOSITORY``, ``repository`` in the config, or
``GITHUB_REPOSITORY`` inside GitHub Actions), its workflow-repository claim must equal
it. Without one, a bundle proves only that *some* workflow signed the file: that may
back up an SSH signature, but never stands alone (see :mod:`bot.bundle.verify`).
sigstore's own ``Verifier`` does the rest against the trusted root: the certificate
chain at the log's integration time, its SCT, the Merkle inclusion proof and signed
checkpoint, the inclusion promise, and the signature over the patch bytes.

The outcomes, each one :class:`~bot.bundle.verify.Check`-shaped ``(ok, detail)``:

- no bundle: passes with an informational sentence, because the SSH signatures stay
  the default trust path and sigstore signing is opt-in;
- a bundle that is not JSON or not a sigstore bundle, whose digest is not the sha256 of
  the patch, or that sigstore rejects: fails. A bundle that claims provenance and cannot
  prove it is a sign of tampering, so it blocks ``verify``, ``apply`` and ``rollback``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.x509 import ExtensionNotFound, SubjectAlternativeName, UniformResourceIdentifier

from bot.signing.sigstore_trust import GITHUB_ACTIONS_ISSUER, bundle_path, trust_config

if TYPE_CHECKING:
    from sigstore.models import Bundle

REPOSITORY_ENV = "SELFIMPROVE_SIGSTORE_REPOSITORY"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    detail: str


def expected_repository(flag: str | None, configured: str | None = None) -> str | None:
    """The repository a sigstore bundle must come from, or None when nothing pins one.

    The flag, ``SELFIMPROVE_SIGSTORE_REPOSITORY``, the config's ``repository``, then,
    inside GitHub Actions only, the repository whose workflow is running.
    """
    in_actions = os.environ.get("GITHUB_ACTIONS") == "true"
    return (
        flag
        or os.environ.get(REPOSITORY_ENV)
        or configured
        or (os.environ.get("GITHUB_REPOSITORY") if in_actions else None)
        or None
    )


def check_sigstore_bundle(patch: Path, data: bytes, repository: str | None) -> Outcome:
    """Verify ``<id>.sigstore.json`` against the patch bytes ``data``, offline."""
    path = bundle_path(patch)
    if not path.is_file():
        return Outcome(
            True,
            f"none ({path.name} is absent: the change was not signed with sigstore; "
            "the SSH signatures are the trust path)",
        )
    from sigstore.errors import Error as SigstoreError  # only paid for when there is a bundle
    from sigstore.models import Bundle
    from sigstore.verify import Verifier, policy

    try:
        raw = path.read_bytes()
        document = json.loads(raw)
    except (OSError, ValueError) as exc:
        return Outcome(False, f"{path.name} is not readable JSON: {exc}")
    try:
        bundle = Bundle.from_json(raw)
    except (SigstoreError, ValueError) as exc:
        return Outcome(False, f"{path.name} is not a sigstore bundle: {_first_line(exc)}")
    signed = _signed_digest(document)
    if signed is None:
        return Outcome(False, f"{path.name} does not sign a file digest (no message signature)")
    sha = hashlib.sha256(data).digest()
    if signed != sha:
        return Outcome(
            False,
            f"{path.name} signs sha256 {signed.hex()}, but {patch.name} has sha256 {sha.hex()}",
        )
    try:
        verifier = Verifier(trusted_root=trust_config(offline=True).trusted_root)
    except (SigstoreError, OSError) as exc:
        return Outcome(False, f"cannot load the sigstore trust root: {_first_line(exc)}")
    rules: list[policy.VerificationPolicy] = [policy.OIDCIssuer(GITHUB_ACTIONS_ISSUER)]
    if repository:
        rules.append(policy.GitHubWorkflowRepository(repository))
    try:
        verifier.verify_artifact(data, bundle, policy.AllOf(rules))
    except SigstoreError as exc:
        return Outcome(False, f"{path.name} rejected by sigstore: {_first_line(exc)}")
    pinned = (
        f"the workflow is in {repository}"
        if repository
        else "not pinned to a repository: pass --sigstore-repository owner/repo to require one"
    )
    return Outcome(
        True,
        f"signed in GitHub Actions by {_identity(bundle)} ({pinned}), "
        f"Rekor log index {document['verificationMaterial']['tlogEntries'][0]['logIndex']}",
    )


def _signed_digest(document: dict[str, Any]) -> bytes | None:
    """The sha256 the bundle says it signs (``messageSignature.messageDigest``)."""
    try:
        digest = document["messageSignature"]["messageDigest"]
        if digest["algorithm"] != "SHA2_256":
            return None
        return base64.b64decode(digest["digest"], validate=True)
    except (KeyError, TypeError, ValueError):
        return None


def _identity(bundle: Bundle) -> str:
    """The signing certificate's workflow URI (its SAN), for the report line."""
    try:
        names = bundle.signing_certificate.extensions.get_extension_for_class(
            SubjectAlternativeName
        )
    except ExtensionNotFound:
        return "an unnamed identity"
    uris = names.value.get_values_for_type(UniformResourceIdentifier)
    return uris[0] if uris else "an unnamed identity"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
