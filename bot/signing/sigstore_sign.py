"""Keyless signing of each bundled patch with the ambient OIDC identity (sigstore).

In GitHub Actions (a workflow with ``permissions: id-token: write``) the runner hands
out an OIDC token (``ACTIONS_ID_TOKEN_REQUEST_URL`` / ``_TOKEN``); Fulcio turns it into
a short-lived certificate naming the workflow, the exact patch bytes are signed with
its key, and Rekor logs the signature publicly. The result is ``<id>.sigstore.json``,
which ``sigstore verify github --offline`` and ``selfimprove verify`` accept. The
metadata is signed the same way (``<id>.json.sigstore.json``), so a run with no SSH key
(the usual case in Actions) still ships a bundle whose every file is vouched for.

It is opt-in (``--sigstore``, ``SELFIMPROVE_SIGSTORE=1`` or ``sigstore = true``), and it
comes last: the patch, its metadata and the SSH signatures are already on disk, so the
metadata cannot name the sigstore bundles without re-signing it. It does not need to:
each sigstore bundle binds itself to its file's bytes, and ``verify`` finds it by name.
Nothing that goes wrong here (no credential, a service down or slow, a refused token)
loses work: the outcome is one sentence for the run's notes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from bot.core import atomic, secrets
from bot.signing.sigstore_trust import bundle_path, trust_config

T = TypeVar("T")
DEADLINE_SECONDS = 180.0
NO_CREDENTIAL = (
    "no ambient OIDC credential (in GitHub Actions the workflow needs "
    "`permissions: id-token: write`)"
)


class NotSigned(Exception):
    """Why sigstore signing could not be done; the bundle stays as it was."""


@dataclass
class SigstoreOutcome:
    """The bundles written, and the one note for the run when not every patch got one."""

    written: list[Path] = field(default_factory=list)
    note: str | None = None


def sign_patches(patches: Sequence[Path], deadline: float = DEADLINE_SECONDS) -> SigstoreOutcome:
    """Sign every file (patches and metadata) with one certificate; stop at the first failure,
    keeping the bundles already written."""
    outcome = SigstoreOutcome()
    written: list[Path] = []
    try:
        _within(deadline, lambda: _sign_all(patches, written))
    except NotSigned as exc:
        outcome.note = f"not signed with sigstore: {exc}"
    except Exception as exc:  # the network and sigstore raise many kinds; none may lose work
        outcome.note = f"not signed with sigstore: {_reason(exc)}"
    outcome.written = list(written)
    return outcome


# held with the secrets (the URL too: its name matches *_TOKEN_*), shown to sigstore briefly
OIDC_VARIABLES = (
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "SIGSTORE_ID_TOKEN",
)


def _sign_all(patches: Sequence[Path], written: list[Path]) -> None:
    from sigstore.oidc import IdentityError, IdentityToken, detect_credential
    from sigstore.sign import SigningContext

    try:
        with secrets.exposed(*OIDC_VARIABLES):
            token = detect_credential()
    except IdentityError as exc:
        raise NotSigned(f"the ambient OIDC credential is unusable: {exc}") from None
    if token is None:
        raise NotSigned(NO_CREDENTIAL)
    context = SigningContext.from_trust_config(trust_config(offline=False))
    with context.signer(IdentityToken(token)) as signer:
        for patch in patches:
            bundle = signer.sign_artifact(patch.read_bytes())
            written.append(atomic.write_text(bundle_path(patch), bundle.to_json()))


def _reason(exc: BaseException) -> str:
    """The first line of what went wrong; sigstore's HTTP errors keep it in the cause."""
    text = str(exc).strip()
    if not text and exc.__cause__ is not None:
        text = f"{type(exc).__name__}: {str(exc.__cause__).strip()}"
    return text.splitlines()[0] if text else type(exc).__name__


def _within(seconds: float, work: Callable[[], T]) -> T:
    """Run ``work`` in a daemon thread and give up waiting after ``seconds``.

    sigstore's HTTP calls have no timeout of their own; a service that accepts the
    connection and never answers must not hold the run (the thread dies with the process).
    """
    box: dict[str, T] = {}
    failure: list[BaseException] = []

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="sigstore-signing", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise NotSigned(f"no answer from the sigstore services within {seconds:.0f} s")
    if failure:
        raise failure[0]
    return box["value"]
