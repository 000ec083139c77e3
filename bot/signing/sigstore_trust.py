"""What signing and verifying with sigstore share: the bundle's name and the trust root.

A change ``<id>`` gets its sigstore bundle as ``<id>.sigstore.json`` beside
``<id>.patch``. The bundle covers the patch bytes only (the hashedrekord of their
sha256), so it stands on its own: it is made after the metadata is written and signed,
and the metadata does not name it (see :mod:`bot.signing.sigstore_sign`).

Trust comes from sigstore's production instance (the trusted root that ships with the
``sigstore`` package, refreshed into its TUF cache when signing online), unless
``SELFIMPROVE_SIGSTORE_TRUST_CONFIG`` names a client trust configuration file: the same
JSON that ``sigstore --trust-config FILE`` takes, for a private sigstore instance.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core.errors import UserError

if TYPE_CHECKING:  # sigstore takes a second to import: only runs that use it pay for it
    from sigstore.models import ClientTrustConfig

BUNDLE_SUFFIX = ".sigstore.json"
TRUST_CONFIG_ENV = "SELFIMPROVE_SIGSTORE_TRUST_CONFIG"
GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com"

# sigstore logs its own warnings (e.g. "TUF repository is loaded in offline mode"); every
# outcome that matters reaches the user as a check line or a run note instead.
logging.getLogger("sigstore").addHandler(logging.NullHandler())


def bundle_path(patch: Path) -> Path:
    """``<id>.sigstore.json`` beside ``<id>.patch``; ``<id>.json.sigstore.json`` for metadata."""
    return patch.with_name(patch.name.removesuffix(".patch") + BUNDLE_SUFFIX)


def trust_config(*, offline: bool) -> ClientTrustConfig:
    """The configured private instance, or sigstore's production instance."""
    from sigstore.models import ClientTrustConfig

    configured = os.environ.get(TRUST_CONFIG_ENV)
    if not configured:
        return ClientTrustConfig.production(offline=offline)
    path = Path(configured).expanduser()
    try:
        return ClientTrustConfig.from_json(path.read_text())
    except OSError as exc:
        raise UserError(f"cannot read {TRUST_CONFIG_ENV} file {path}: {exc.strerror}") from None
    except ValueError as exc:
        reason = str(exc).splitlines()[0]
        raise UserError(f"{path} is not a sigstore client trust config: {reason}") from None
