"""SSH signatures: our own round trip, and both directions against the real ssh-keygen."""

from __future__ import annotations

import base64
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bot.core.errors import UserError
from bot.signing.ssh import (
    BEGIN,
    END,
    NAMESPACE,
    BadSignature,
    MalformedSignature,
    SignatureError,
    UntrustedKey,
    WrongNamespace,
    fingerprint,
    generate_key,
    parse_allowed_signers,
    parse_signature,
    sign,
    verify,
)

ID = "bot@example.com"
DATA = b"From 0000 Mon Sep 17 00:00:00 2001\nSubject: [PATCH] perf: faster\n\n+x = 1\n"
needs_ssh_keygen = pytest.mark.skipif(
    shutil.which("ssh-keygen") is None, reason="ssh-keygen (OpenSSH) is not installed"
)


def ssh_keygen(*args: str, cwd: Path, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["ssh-keygen", *args], cwd=cwd, input=stdin, capture_output=True, timeout=30
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def ssh_keygen_key(folder: Path, name: str, kind: str = "ed25519", passphrase: str = "") -> Path:
    path = folder / name
    done = ssh_keygen("-q", "-t", kind, "-N", passphrase, "-C", name, "-f", str(path), cwd=folder)
    assert done.returncode == 0, done.stderr
    return path


@pytest.fixture
def key(tmp_path: Path) -> tuple[Path, str]:
    """A key made by ``generate_key`` and its allowed_signers line."""
    path = tmp_path / "signing_key"
    return path, generate_key(path, ID)


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def rearmour(signature: str, change: int) -> str:
    """The same signature with one byte of its binary blob flipped (from the end)."""
    blob = base64.b64decode("".join(signature.strip().splitlines()[1:-1]))
    return f"{BEGIN}\n{base64.b64encode(flip(blob, len(blob) - change)).decode()}\n{END}\n"


def test_generate_key_writes_a_private_key_and_its_public_half(key: tuple[Path, str]) -> None:
    path, line = key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    public = path.with_name("signing_key.pub").read_text().split()
    assert line == f'{ID} namespaces="{NAMESPACE}" {public[0]} {public[1]}'
    assert public[0] == "ssh-ed25519" and public[1].startswith("AAAA") and public[2] == ID
    with pytest.raises(UserError, match="already exists"):
        generate_key(path, ID)
    with pytest.raises(UserError, match="cannot be an identity"):
        generate_key(path.with_name("other"), "two words")


def test_round_trip(key: tuple[Path, str], tmp_path: Path) -> None:
    path, line = key
    signature = sign(DATA, path)
    lines = signature.splitlines()
    assert lines[0] == BEGIN and lines[-1] == END
    assert all(len(body) <= 70 for body in lines[1:-1]) and len(lines[1]) == 70
    verified = verify(DATA, signature, line + "\n", ID)
    assert verified.identity == ID and verified.principals == ID and verified.line == 1
    assert verified.fingerprint == fingerprint(parse_signature(signature).public_key)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(line + "\n")
    assert verify(DATA, signature, allowed, ID) == verified


def test_one_byte_changed_in_the_data_is_rejected(key: tuple[Path, str]) -> None:
    path, line = key
    signature = sign(DATA, path)
    for index in (0, len(DATA) // 2, len(DATA) - 1):
        with pytest.raises(BadSignature, match="does not match the data"):
            verify(flip(DATA, index), signature, line, ID)


def test_one_byte_changed_in_the_signature_is_rejected(key: tuple[Path, str]) -> None:
    path, line = key
    signature = sign(DATA, path)
    for change in (1, 32, 64):  # inside the raw 64-byte ed25519 signature
        with pytest.raises(BadSignature):
            verify(DATA, rearmour(signature, change), line, ID)
    with pytest.raises(SignatureError):  # anywhere else in the blob: some clear refusal
        verify(DATA, rearmour(signature, 100), line, ID)
    armoured = signature.replace(signature.splitlines()[1][:8], "!" * 8)
    with pytest.raises(MalformedSignature, match="malformed"):
        verify(DATA, armoured, line, ID)
    with pytest.raises(MalformedSignature, match="not an SSH signature"):
        verify(DATA, "not a signature", line, ID)


def test_wrong_namespace_is_rejected(key: tuple[Path, str]) -> None:
    path, line = key
    with pytest.raises(WrongNamespace, match="namespace 'git', not 'selfimprove'"):
        verify(DATA, sign(DATA, path, namespace="git"), line, ID)
    signature = sign(DATA, path)
    with pytest.raises(WrongNamespace):
        verify(DATA, signature, line, ID, namespace="file")


def test_a_signature_by_an_untrusted_key_is_rejected(key: tuple[Path, str], tmp_path: Path) -> None:
    _path, line = key
    stranger = tmp_path / "stranger"
    generate_key(stranger, ID)
    with pytest.raises(UntrustedKey, match=r"is not trusted for 'bot@example\.com'"):
        verify(DATA, sign(DATA, stranger), line, ID)


def test_an_identity_not_in_allowed_signers_is_rejected(key: tuple[Path, str]) -> None:
    path, line = key
    with pytest.raises(UntrustedKey, match=r"no entry for 'mallory@example\.com'"):
        verify(DATA, sign(DATA, path), line, "mallory@example.com")


def test_allowed_signers_real_file_syntax(key: tuple[Path, str]) -> None:
    path, line = key
    public = line.split(" ", 2)[2]
    signature = sign(DATA, path)
    text = (
        "# trusted signers\n\n"
        f"alice@example.com,{ID} {public} a comment\n"
        f'"*@example.org" namespaces="git,selfimprove" {public}\n'
        f'*@corp.test,!eve@corp.test cert-authority,namespaces="selfimprove" {public}\n'
    )
    assert verify(DATA, signature, text, ID).line == 3
    assert verify(DATA, signature, text, "carol@example.org").line == 4
    entries = parse_allowed_signers(text)
    assert [e.principals for e in entries] == [
        f"alice@example.com,{ID}",
        "*@example.org",
        "*@corp.test,!eve@corp.test",
    ]
    assert entries[2].cert_authority and entries[1].namespaces == "git,selfimprove"
    with pytest.raises(UntrustedKey, match="only certificate authorities"):
        verify(DATA, signature, text, "dan@corp.test")
    with pytest.raises(UntrustedKey, match="no entry"):
        verify(DATA, signature, text, "eve@corp.test")


def test_allowed_signers_options_are_honoured(key: tuple[Path, str]) -> None:
    path, line = key
    public = line.split(" ", 2)[2]
    signature = sign(DATA, path)
    with pytest.raises(UntrustedKey, match="but not for 'selfimprove'"):
        verify(DATA, signature, f'{ID} namespaces="git,file" {public}', ID)
    with pytest.raises(UntrustedKey, match="not valid"):
        verify(DATA, signature, f'{ID} valid-before="20200101Z" {public}', ID)
    with pytest.raises(UntrustedKey, match="not valid"):
        verify(DATA, signature, f'{ID} valid-after="29990101" {public}', ID)
    ok = f'{ID} valid-after="20200101000000Z",valid-before="29991231" {public}'
    assert verify(DATA, signature, ok, ID).identity == ID


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("only-a-principal", "key type and a key"),
        ("a ssh-ed25519 not!base64", "not base64"),
        ("a ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIHN0dWI=", "not a ssh-rsa key"),
        ("a no-such-option ssh-ed25519 AAAA", "unsupported option"),
        ("a namespaces=git ssh-ed25519 AAAA", "double quotes"),
        ('a valid-after="yesterday" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHN0dWI=', "not a time"),
    ],
)
def test_a_malformed_allowed_signers_line_is_a_clear_error(line: str, why: str) -> None:
    with pytest.raises(UserError, match=f"allowed_signers line 2: .*{why}"):
        parse_allowed_signers(f"# header\n{line}\n")


def test_unusable_signing_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot read the signing key"):
        sign(DATA, tmp_path / "missing")
    ecdsa = tmp_path / "ecdsa"
    ecdsa.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(UserError, match="not an ed25519 key"):
        sign(DATA, ecdsa)
    garbage = tmp_path / "garbage"
    garbage.write_text("hello\n")
    with pytest.raises(UserError, match="not an OpenSSH private key"):
        sign(DATA, garbage)


@needs_ssh_keygen
class TestAgainstSshKeygen:
    def test_ssh_keygen_accepts_our_signature(self, key: tuple[Path, str], tmp_path: Path) -> None:
        path, line = key
        (tmp_path / "allowed_signers").write_text(line + "\n")
        (tmp_path / "bundle.patch").write_bytes(DATA)
        (tmp_path / "bundle.patch.sig").write_text(sign(DATA, path))
        args = ["-Y", "verify", "-f", "allowed_signers", "-I", ID, "-n", NAMESPACE]
        done = ssh_keygen(*args, "-s", "bundle.patch.sig", cwd=tmp_path, stdin=DATA)
        assert done.returncode == 0, done.stderr
        assert f'Good "{NAMESPACE}" signature for {ID}' in done.stdout
        tampered = ssh_keygen(*args, "-s", "bundle.patch.sig", cwd=tmp_path, stdin=flip(DATA, 3))
        assert tampered.returncode != 0

    def test_we_accept_a_signature_made_by_ssh_keygen(self, tmp_path: Path) -> None:
        path = ssh_keygen_key(tmp_path, "id_ed25519")
        line = f"{ID} {path.with_name('id_ed25519.pub').read_text()}"
        (tmp_path / "bundle.patch").write_bytes(DATA)
        done = ssh_keygen(
            "-Y", "sign", "-f", str(path), "-n", NAMESPACE, "bundle.patch", cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
        signature = (tmp_path / "bundle.patch.sig").read_text()
        verified = verify(DATA, signature, line, ID)
        shown = ssh_keygen("-l", "-f", str(path), cwd=tmp_path).stdout.split()[1]
        assert verified.fingerprint == shown
        with pytest.raises(BadSignature):
            verify(flip(DATA, 0), signature, line, ID)
        (tmp_path / "bundle.patch.sig").unlink()
        done = ssh_keygen("-Y", "sign", "-f", str(path), "-n", "git", "bundle.patch", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        with pytest.raises(WrongNamespace):
            verify(DATA, (tmp_path / "bundle.patch.sig").read_text(), line, ID)

    def test_a_key_made_by_ssh_keygen_signs_for_both(self, tmp_path: Path) -> None:
        path = ssh_keygen_key(tmp_path, "id_ed25519")
        line = f"{ID} {path.with_name('id_ed25519.pub').read_text()}"
        signature = sign(DATA, path)
        assert verify(DATA, signature, line, ID).identity == ID
        (tmp_path / "allowed_signers").write_text(line)
        (tmp_path / "f.sig").write_text(signature)
        args = ("-Y", "verify", "-f", "allowed_signers", "-I", ID, "-n", NAMESPACE, "-s", "f.sig")
        assert ssh_keygen(*args, cwd=tmp_path, stdin=DATA).returncode == 0

    def test_ssh_keygen_signs_with_a_key_we_generated(
        self, key: tuple[Path, str], tmp_path: Path
    ) -> None:
        path, line = key
        (tmp_path / "f").write_bytes(DATA)
        done = ssh_keygen("-Y", "sign", "-f", str(path), "-n", NAMESPACE, "f", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert verify(DATA, (tmp_path / "f.sig").read_text(), line, ID).identity == ID

    @pytest.mark.parametrize(
        ("entry", "identity"),
        [
            ('"*@example.org" namespaces="git,selfimprove" {key}', "carol@example.org"),
            ("alice@example.com,bot@example.com {key} a comment", ID),
            ('*@corp.test cert-authority,namespaces="selfimprove" {key}', "dan@corp.test"),
            ("*@corp.test,!eve@corp.test {key}", "eve@corp.test"),
            ("*@corp.test,!eve@corp.test {key}", "frank@corp.test"),
            ('bot@example.com namespaces="git, selfimprove" {key}', ID),
            ('bot@example.com valid-before="20200101Z" {key}', ID),
            ('bot@example.com valid-after="29990101" {key}', ID),
            ('bot@example.com valid-after="20200101000000Z",valid-before="29991231" {key}', ID),
        ],
    )
    def test_allowed_signers_decisions_match_ssh_keygen(
        self, key: tuple[Path, str], tmp_path: Path, entry: str, identity: str
    ) -> None:
        path, line = key
        text = "# made by the test\n" + entry.format(key=line.split(" ", 2)[2]) + "\n"
        (tmp_path / "allowed_signers").write_text(text)
        (tmp_path / "f.sig").write_text(sign(DATA, path))
        args = ("-Y", "verify", "-f", "allowed_signers", "-I", identity, "-n", NAMESPACE)
        theirs = ssh_keygen(*args, "-s", "f.sig", cwd=tmp_path, stdin=DATA).returncode == 0
        try:
            ours = verify(DATA, (tmp_path / "f.sig").read_text(), text, identity) is not None
        except UntrustedKey:
            ours = False
        assert ours == theirs

    def test_encrypted_and_non_ed25519_keys_are_refused(self, tmp_path: Path) -> None:
        encrypted = ssh_keygen_key(tmp_path, "encrypted", passphrase="correct horse")
        with pytest.raises(UserError, match="protected by a passphrase"):
            sign(DATA, encrypted)
        ecdsa = ssh_keygen_key(tmp_path, "ecdsa", kind="ecdsa")
        with pytest.raises(UserError, match="not an ed25519 key"):
            sign(DATA, ecdsa)
        (tmp_path / "f").write_bytes(DATA)
        assert (
            ssh_keygen(
                "-Y", "sign", "-f", str(ecdsa), "-n", NAMESPACE, "f", cwd=tmp_path
            ).returncode
            == 0
        )
        line = f"{ID} {ecdsa.with_name('ecdsa.pub').read_text()}"
        with pytest.raises(MalformedSignature, match="ecdsa-sha2-nistp256 key; only ssh-ed25519"):
            verify(DATA, (tmp_path / "f.sig").read_text(), line, ID)
