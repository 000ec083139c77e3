"""Detached SSH signatures in git's format (``ssh-keygen -Y sign``), made and checked here.

A patch bundle is signed so that whoever applies it can tell it came from a key they
trust, with tools they already have: ``ssh-keygen -Y verify`` and git's
``gpg.ssh.allowedSignersFile`` read the same ``SSHSIG`` armour and ``allowed_signers``
file as this module. Only unencrypted ed25519 keys are used (PROTOCOL.sshsig):

    blob        = "SSHSIG" uint32(1) string(publickey) string(namespace)
                  string(reserved) string(hash_algorithm) string(signature)
    signed data = "SSHSIG" string(namespace) string(reserved)
                  string(hash_algorithm) string(H(message))
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bot.core.errors import UserError
from bot.signing.allowed_signers import (
    SignatureError,
    UntrustedKey,
    fingerprint,
    parse_allowed_signers,
    read_ssh_string,
    trusted_signer,
)

NAMESPACE = "selfimprove"
HASH_ALGORITHM = "sha512"
KEY_TYPE = "ssh-ed25519"
BEGIN = "-----BEGIN SSH SIGNATURE-----"
END = "-----END SSH SIGNATURE-----"
_MAGIC = b"SSHSIG"
_HASHES = ("sha256", "sha512")


class MalformedSignature(SignatureError):
    """The text is not an SSHSIG signature this module can read."""


class WrongNamespace(SignatureError):
    """The signature was made for another purpose (namespace)."""


class BadSignature(SignatureError):
    """The signature does not match the data: one of them was changed."""


@dataclass(frozen=True)
class Signature:
    """The fields of an ed25519 SSHSIG blob that verification needs."""

    public_key: bytes  # the SSH wire blob: string(key type) string(key)
    key: bytes  # the raw 32-byte ed25519 public key
    namespace: str
    hash_algorithm: str
    signature: bytes  # the raw 64-byte ed25519 signature


@dataclass(frozen=True)
class Verified:
    """Who signed: the identity asked about and the entry and key that vouched for it."""

    identity: str
    principals: str
    fingerprint: str
    line: int


def generate_key(path: Path, identity: str) -> str:
    """Write a new ed25519 key (``path``, mode 0600, and ``path.pub``); return its
    allowed_signers line. Existing files are never overwritten."""
    if not identity or re.search(r'[\s,"]', identity):
        raise UserError(f"{identity!r} cannot be an identity: use one word, like an e-mail.")
    public_path = path.with_name(path.name + ".pub")
    for existing in (path, public_path):
        if existing.exists():
            raise UserError(f"{existing} already exists; remove it or choose another path.")
    key = Ed25519PrivateKey.generate()
    secret = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    path.touch(mode=0o600, exist_ok=False)  # created private, before the secret is in it
    path.chmod(0o600)
    path.write_bytes(secret)
    public = openssh_public_key(_public_blob(key.public_key()))
    public_path.write_text(f"{public} {identity}\n", encoding="utf-8")
    return f'{identity} namespaces="{NAMESPACE}" {public}'


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The unencrypted ed25519 key in the OpenSSH private key file ``path``."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UserError(f"cannot read the signing key {path}: {error.strerror}.") from None
    try:
        key = serialization.load_ssh_private_key(raw, password=None)
    except TypeError:
        raise UserError(
            f"the signing key {path} is protected by a passphrase; use an unencrypted key."
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise UserError(f"{path} is not an OpenSSH private key.") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UserError(f"the signing key {path} is not an ed25519 key; only ed25519 is used.")
    return key


def key_fingerprint(key_path: Path) -> str:
    """The ``SHA256:...`` fingerprint of a private key's public half."""
    return fingerprint(_public_blob(load_private_key(key_path).public_key()))


def sign(data: bytes, key_path: Path, namespace: str = NAMESPACE) -> str:
    """The armoured SSHSIG signature of ``data``, as ``ssh-keygen -Y sign -n NAMESPACE``."""
    if not namespace:
        raise UserError("a signature needs a non-empty namespace.")
    key = load_private_key(key_path)
    raw = key.sign(signed_data(data, namespace, HASH_ALGORITHM))
    fields = [_public_blob(key.public_key()), namespace.encode(), b"", HASH_ALGORITHM.encode()]
    fields.append(_string(KEY_TYPE.encode()) + _string(raw))
    blob = _MAGIC + (1).to_bytes(4, "big") + b"".join(map(_string, fields))
    body = base64.b64encode(blob).decode("ascii")
    return "\n".join([BEGIN, *(body[i : i + 70] for i in range(0, len(body), 70)), END]) + "\n"


def signed_data(message: bytes, namespace: str, hash_algorithm: str) -> bytes:
    """What the key actually signs: the preamble, the namespace and the message's hash."""
    digest = hashlib.new(hash_algorithm, message).digest()
    return _MAGIC + b"".join(
        map(_string, [namespace.encode(), b"", hash_algorithm.encode(), digest])
    )


def parse_signature(text: str) -> Signature:
    """The fields of an armoured ed25519 SSHSIG signature, or ``MalformedSignature``."""
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) < 3 or lines[0] != BEGIN or lines[-1] != END:
        raise MalformedSignature(f"the signature is not an SSH signature ({BEGIN} ... {END}).")
    try:
        blob = base64.b64decode("".join(lines[1:-1]), validate=True)
        if blob[:6] != _MAGIC or blob[6:10] != (1).to_bytes(4, "big"):
            raise ValueError("not an SSHSIG version 1 blob")
        public, namespace, _reserved, hash_algorithm, signature = _read_strings(blob[10:], 5)
        key_type, signature_type = read_ssh_string(public, 0)[0], read_ssh_string(signature, 0)[0]
        if key_type != KEY_TYPE.encode() or signature_type != key_type:
            shown = key_type.decode(errors="replace")
            raise MalformedSignature(f"the signature is by a {shown} key; only {KEY_TYPE} is used.")
        key, raw = _read_strings(public, 2)[1], _read_strings(signature, 2)[1]
        if len(key) != 32:
            raise ValueError("not an ed25519 key")
        parsed = Signature(public, key, namespace.decode(), hash_algorithm.decode(), raw)
    except (ValueError, binascii.Error):  # UnicodeDecodeError is a ValueError
        raise MalformedSignature("the signature is malformed (damaged armour or blob).") from None
    if parsed.hash_algorithm not in _HASHES:
        raise MalformedSignature(f"the signature uses unknown hash {parsed.hash_algorithm!r}.")
    return parsed


def verify(
    data: bytes,
    signature: str,
    allowed_signers: str | Path,
    identity: str,
    namespace: str = NAMESPACE,
) -> Verified:
    """Check that ``signature`` is ``identity``'s signature of ``data`` for ``namespace``.

    ``allowed_signers`` is the file's text, or a ``Path`` to read it from. Raises a
    ``SignatureError`` subclass saying what failed, in the order ``ssh-keygen -Y verify``
    checks: the signature's form, its namespace, the data, then the trust in the key.
    """
    parsed = parse_signature(signature)
    if parsed.namespace != namespace:
        raise WrongNamespace(
            f"the signature is for namespace {parsed.namespace!r}, not {namespace!r}."
        )
    try:
        key = Ed25519PublicKey.from_public_bytes(parsed.key)
        key.verify(parsed.signature, signed_data(data, namespace, parsed.hash_algorithm))
    except InvalidSignature:
        raise BadSignature(
            "the signature does not match the data: the file or its signature was changed."
        ) from None
    if isinstance(allowed_signers, Path):
        try:
            allowed_signers = allowed_signers.read_text(encoding="utf-8")
        except OSError as error:
            raise UserError(f"cannot read {allowed_signers}: {error.strerror}.") from None
    signer = trusted_signer(
        parse_allowed_signers(allowed_signers), identity, parsed.public_key, namespace
    )
    return Verified(identity, signer.principals, fingerprint(parsed.public_key), signer.line)


def openssh_public_key(public_key: bytes) -> str:
    """``ssh-ed25519 AAAA...``: the wire blob as one line of an authorized key."""
    key_type = read_ssh_string(public_key, 0)[0].decode()
    return f"{key_type} {base64.b64encode(public_key).decode('ascii')}"


def _public_blob(key: Ed25519PublicKey) -> bytes:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _string(KEY_TYPE.encode()) + _string(raw)


def _string(value: bytes) -> bytes:
    """An SSH wire ``string``: uint32 length, then the bytes."""
    return len(value).to_bytes(4, "big") + value


def _read_strings(data: bytes, count: int) -> list[bytes]:
    """Exactly ``count`` SSH strings and nothing after them."""
    fields, at = [], 0
    for _ in range(count):
        field, at = read_ssh_string(data, at)
        fields.append(field)
    if at != len(data):
        raise ValueError("trailing data")
    return fields


__all__ = ["SignatureError", "UntrustedKey", "fingerprint"]
