"""Which GitHub credentials a process has: a token, or a GitHub App's id and private key.

Read from an environment mapping (never ``os.environ`` directly, so callers and tests say
which environment they mean). An explicit ``SELFIMPROVE_GITHUB_TOKEN`` wins; then an App
(its installation tokens, like a personal token, let the PRs it opens trigger CI); then
Actions' ``GITHUB_TOKEN`` and the GitHub CLI's ``GH_TOKEN``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.core.errors import UserError

TOKEN_VARIABLES = ("SELFIMPROVE_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN")
APP_ID = "SELFIMPROVE_APP_ID"
APP_PRIVATE_KEY = "SELFIMPROVE_APP_PRIVATE_KEY"  # the PEM text, or a path to the .pem file
APP_INSTALLATION_ID = "SELFIMPROVE_APP_INSTALLATION_ID"
DEFAULT_API_URL = "https://api.github.com"


@dataclass(frozen=True)
class TokenCredentials:
    """A token used as is; ``source`` names the variable it came from (never the value)."""

    token: str
    source: str

    def __repr__(self) -> str:
        return f"TokenCredentials(source={self.source!r})"


@dataclass(frozen=True)
class AppCredentials:
    """A GitHub App: JWTs are signed with ``private_key``; installation found if not given."""

    app_id: str
    private_key: str
    installation_id: int | None = None

    def __repr__(self) -> str:
        return f"AppCredentials(app_id={self.app_id!r}, installation_id={self.installation_id})"


Credentials = TokenCredentials | AppCredentials


class CredentialsError(UserError):
    """The environment names credentials that cannot be used as given (a fixable mistake)."""


def credentials_from_env(env: Mapping[str, str]) -> Credentials | None:
    """The credentials ``env`` provides, or ``None`` when it holds none."""
    explicit = env.get(TOKEN_VARIABLES[0], "").strip()
    if explicit:
        return TokenCredentials(explicit, TOKEN_VARIABLES[0])
    app_id = env.get(APP_ID, "").strip()
    key_text = env.get(APP_PRIVATE_KEY, "").strip()
    if app_id or key_text:
        return _app(app_id, key_text, env.get(APP_INSTALLATION_ID, "").strip())
    for name in TOKEN_VARIABLES[1:]:
        token = env.get(name, "").strip()
        if token:
            return TokenCredentials(token, name)
    return None


def api_url_from_env(env: Mapping[str, str], api_url: str | None = None) -> str:
    """The REST API base URL: given, else ``GITHUB_API_URL`` (Actions sets it), else github.com."""
    return (api_url or env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")


def _app(app_id: str, key_text: str, installation: str) -> AppCredentials:
    if not app_id or not key_text:
        missing = APP_ID if not app_id else APP_PRIVATE_KEY
        raise CredentialsError(f"a GitHub App needs {missing} too")
    if not app_id.isdigit():
        raise CredentialsError(f"{APP_ID} must be the App's numeric id")
    if not key_text.startswith("-----BEGIN"):
        path = Path(key_text).expanduser()
        if not path.is_file():
            raise CredentialsError(f"{APP_PRIVATE_KEY} is neither a PEM key nor a file")
        key_text = path.read_text()
    if installation and not installation.isdigit():
        raise CredentialsError(f"{APP_INSTALLATION_ID} must be a number")
    return AppCredentials(app_id, key_text, int(installation) if installation else None)
