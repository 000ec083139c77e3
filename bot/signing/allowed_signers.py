"""allowed_signers: which SSH keys a maintainer trusts, for whom, and for what.

The file format of ``ssh-keygen -Y verify -f`` and git's ``gpg.ssh.allowedSignersFile``
(ssh-keygen(1), ALLOWED SIGNERS), read here so a bundle's signature is checked against
the same trust a maintainer already keeps for git.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.core.errors import UserError

_KEY_TOKEN = re.compile(r"(ssh-|ecdsa-|sk-)\S+")


class SignatureError(UserError):
    """A signature did not verify; the message says why in one sentence."""


class UntrustedKey(SignatureError):
    """No allowed_signers entry trusts the signing key for this identity and namespace."""


@dataclass(frozen=True)
class Signer:
    """One allowed_signers entry: who (principal patterns), which key, and its options."""

    principals: str
    key: bytes
    line: int
    namespaces: str | None = None
    cert_authority: bool = False
    valid_after: datetime | None = None
    valid_before: datetime | None = None


def trusted_signer(signers: list[Signer], identity: str, key: bytes, namespace: str) -> Signer:
    """The entry that trusts ``key`` for ``identity`` and ``namespace`` now, or why none."""
    named = [s for s in signers if _matches(identity, s.principals)]
    if not named:
        raise UntrustedKey(f"allowed_signers has no entry for {identity!r}.")
    if all(s.cert_authority for s in named):
        raise UntrustedKey(
            f"allowed_signers trusts only certificate authorities for {identity!r}, "
            "and certificate signatures are not supported."
        )
    shown = f"key {fingerprint(key)}"
    same_key = [s for s in named if s.key == key and not s.cert_authority]
    if not same_key:
        raise UntrustedKey(f"{shown} is not trusted for {identity!r} in allowed_signers.")
    same_key = [s for s in same_key if s.namespaces is None or _matches(namespace, s.namespaces)]
    if not same_key:
        raise UntrustedKey(f"{shown} is trusted for {identity!r} but not for {namespace!r}.")
    now = datetime.now(UTC)
    for s in same_key:
        if (s.valid_after or now) <= now and (s.valid_before is None or now < s.valid_before):
            return s
    raise UntrustedKey(f"{shown} is not valid for {identity!r} at this time.")


def parse_allowed_signers(text: str) -> list[Signer]:
    """The entries of an allowed_signers file (see ssh-keygen(1), ALLOWED SIGNERS)."""
    signers = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line and not line.startswith("#"):
            try:
                signers.append(_parse_line(line, number))
            except ValueError as error:
                raise UserError(f"allowed_signers line {number}: {error}.") from None
    return signers


def _parse_line(line: str, number: int) -> Signer:
    """``principals [options] keytype base64 [comment]``; double quotes may hold spaces."""
    fields = _split_unquoted(line, None)
    options: dict[str, str] = {}
    if len(fields) > 1 and not _KEY_TOKEN.fullmatch(fields[1]):
        for option in _split_unquoted(fields.pop(1), ","):
            name, equals, value = option.partition("=")
            name = name.lower()
            if name == "cert-authority" and not equals:
                options[name] = ""
            elif name in ("namespaces", "valid-after", "valid-before") and len(value) > 1:
                if not value.startswith('"') or not value.endswith('"'):
                    raise ValueError(f"the value of {name} must be in double quotes")
                options[name] = value[1:-1]
            else:
                raise ValueError(f"unsupported option {option!r}")
    if len(fields) < 3:
        raise ValueError("principals, a key type and a key are needed")
    try:
        key = base64.b64decode(fields[2], validate=True)
        embedded = read_ssh_string(key, 0)[0]
    except (ValueError, binascii.Error):
        raise ValueError("the key is not base64 SSH key data") from None
    if embedded != fields[1].encode():
        raise ValueError(f"the key data is not a {fields[1]} key")
    after, before = options.get("valid-after"), options.get("valid-before")
    return Signer(
        principals=fields[0].strip('"'),
        key=key,
        line=number,
        namespaces=options.get("namespaces"),
        cert_authority="cert-authority" in options,
        valid_after=_time(after) if after is not None else None,
        valid_before=_time(before) if before is not None else None,
    )


def _split_unquoted(text: str, separator: str | None) -> list[str]:
    """Split at ``separator`` (``None``: runs of whitespace) where not inside double quotes."""
    parts, current, quoted = [], "", False
    for char in text:
        quoted ^= char == '"'
        if not quoted and (char == separator or (separator is None and char.isspace())):
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part for part in parts if part] if separator is None else parts


def _time(value: str) -> datetime:
    """``YYYYMMDD[HHMM[SS]]``, in UTC with a trailing ``Z``, else local time."""
    utc = value[-1:] in ("Z", "z")
    digits = value[:-1] if utc else value
    layout = {8: "%Y%m%d", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}.get(len(digits))
    if layout is None or not digits.isdigit():
        raise ValueError(f"{value!r} is not a time like YYYYMMDD[HHMM[SS]][Z]")
    when = datetime.strptime(digits, layout)
    return when.replace(tzinfo=UTC) if utc else when.astimezone()


def _matches(value: str, patterns: str) -> bool:
    """OpenSSH pattern-list matching: ``*`` and ``?`` wildcards, ``!`` negates and wins."""
    found = False
    for pattern in patterns.split(","):
        negated = pattern.startswith("!")
        expression = re.escape(pattern.removeprefix("!"))
        expression = expression.replace(r"\*", ".*").replace(r"\?", ".")
        if re.fullmatch(expression, value, re.DOTALL):
            if negated:
                return False
            found = True
    return found


def fingerprint(public_key: bytes) -> str:
    """``SHA256:...``, as ``ssh-keygen -l`` prints a key."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(public_key).digest()).decode().rstrip("=")


def read_ssh_string(data: bytes, at: int) -> tuple[bytes, int]:
    """One SSH wire ``string`` at ``at``: its bytes and where the next field starts."""
    if at + 4 > len(data):
        raise ValueError("truncated")
    end = at + 4 + int.from_bytes(data[at : at + 4], "big")
    if end > len(data):
        raise ValueError("truncated")
    return data[at + 4 : end], end
