"""A private sigstore instance for tests: our own Fulcio CA, CT log and Rekor log.

Every key is made here with ``cryptography``; nothing comes from the public instance.
The pieces are built from the specifications, not from sigstore-python's own helpers:

- the CA issues a Fulcio-profile leaf certificate (code-signing EKU, the workflow URI as
  its SAN, the GitHub Actions claims as Fulcio's OID extensions) with one embedded SCT
  that the CT log signs over the precertificate (RFC 6962 section 3.2);
- the transparency log is an RFC 6962 Merkle tree that holds a few unrelated leaves, so
  an inclusion proof has real sibling hashes; it signs a checkpoint (a signed note) and
  an inclusion promise (the SET over the RFC 8785 form of the entry);
- :meth:`SigstoreInstance.trust_config` is the ``ClientTrustConfig`` JSON that names
  them, which both sigstore-python's ``Verifier`` and the stock ``sigstore`` CLI
  (``--trust-config``) accept.

A bundle made by :meth:`SigstoreInstance.sign` has the shape a real signing gives,
except that its trust root is this instance. :class:`SigstoreServices` serves the same
instance over loopback HTTP as the three services a keyless signing talks to: the
GitHub Actions OIDC token endpoint, Fulcio's ``/api/v2/signingCert`` and Rekor's
``/api/v1/log/entries``, so the real sigstore client can sign against it end to end.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.ipfs_servers import Reply, Seen, StandIn

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
SCT_LIST_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
FULCIO_OID = "1.3.6.1.4.1.57264.1."
# Fulcio's deprecated raw-string claims (what `sigstore verify github` checks) ...
RAW_CLAIMS = {"issuer": 1, "trigger": 2, "sha": 3, "workflow": 4, "repository": 5, "ref": 6}
# ... and its DER UTF8String form of the issuer.
ISSUER_V2 = 8


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def der(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(key: ec.EllipticCurvePublicKey) -> bytes:
    """RFC 6962 key ID: sha256 of the DER SubjectPublicKeyInfo."""
    return hashlib.sha256(der(key)).digest()


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def tree_hash(leaves: list[bytes]) -> bytes:
    """RFC 6962 MTH."""
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + tree_hash(leaves[:k]) + tree_hash(leaves[k:])).digest()


def audit_path(index: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 PATH(m, D[n]), leaf to root."""
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if index < k:
        return [*audit_path(index, leaves[:k]), tree_hash(leaves[k:])]
    return [*audit_path(index - k, leaves[k:]), tree_hash(leaves[:k])]


@dataclass(frozen=True)
class Workflow:
    """The GitHub Actions claims a signing certificate carries."""

    repository: str = "octo/widgets"
    ref: str = "refs/heads/main"
    workflow_path: str = ".github/workflows/selfimprove.yml"
    trigger: str = "schedule"
    sha: str = "0" * 40

    @property
    def identity(self) -> str:
        return f"https://github.com/{self.repository}/{self.workflow_path}@{self.ref}"


@dataclass
class SigstoreInstance:
    """Fulcio + CT log + Rekor stand-ins holding their own keys and log."""

    fulcio_url: str = "https://fulcio.test"
    rekor_url: str = "https://rekor.test"
    ca_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    ct_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    log_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    leaves: list[bytes] = field(
        default_factory=lambda: [b'{"unrelated":1}', b'{"unrelated":2}', b'{"unrelated":3}']
    )

    def __post_init__(self) -> None:
        now = datetime.now(UTC)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "selfimprove-test"),
                x509.NameAttribute(NameOID.COMMON_NAME, "test-fulcio"),
            ]
        )
        public = self.ca_key.public_key()
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )

    # -- Fulcio -----------------------------------------------------------------------

    def issue_certificate(
        self, public_key: ec.EllipticCurvePublicKey, workflow: Workflow
    ) -> x509.Certificate:
        """A Fulcio-profile signing certificate for ``workflow``, valid ten minutes."""
        now = datetime.now(UTC).replace(microsecond=0)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.ca_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(minutes=10))
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                False,
            )
            .add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(workflow.identity)]),
                critical=True,
            )
        )
        claims = {
            "issuer": GITHUB_ISSUER,
            "trigger": workflow.trigger,
            "sha": workflow.sha,
            "workflow": workflow.workflow_path,
            "repository": workflow.repository,
            "ref": workflow.ref,
        }
        for claim, number in RAW_CLAIMS.items():
            oid = x509.ObjectIdentifier(f"{FULCIO_OID}{number}")
            builder = builder.add_extension(
                x509.UnrecognizedExtension(oid, claims[claim].encode()), False
            )
        issuer = GITHUB_ISSUER.encode()
        builder = builder.add_extension(
            x509.UnrecognizedExtension(
                x509.ObjectIdentifier(f"{FULCIO_OID}{ISSUER_V2}"),
                b"\x0c" + _der_length(len(issuer)) + issuer,
            ),
            False,
        )
        precertificate = builder.sign(self.ca_key, hashes.SHA256())
        sct = self._sct(precertificate.tbs_certificate_bytes)
        sct_list = struct.pack("!HH", len(sct) + 2, len(sct)) + sct
        value = b"\x04" + _der_length(len(sct_list)) + sct_list
        return builder.add_extension(x509.UnrecognizedExtension(SCT_LIST_OID, value), False).sign(
            self.ca_key, hashes.SHA256()
        )

    def _sct(self, tbs: bytes) -> bytes:
        """One RFC 6962 v1 SCT over the precertificate's TBS, signed by the CT log."""
        millis = int(time.time()) * 1000
        issuer_key_hash = key_id(self.ca_key.public_key())
        signed = (
            struct.pack("!BBQH", 0, 0, millis, 1)
            + issuer_key_hash
            + len(tbs).to_bytes(3, "big")
            + tbs
            + struct.pack("!H", 0)
        )
        signature = _sign(self.ct_key, signed)
        log_id = key_id(self.ct_key.public_key())
        return (
            struct.pack("!B32sQH", 0, log_id, millis, 0)
            + struct.pack("!BBH", 4, 3, len(signature))
            + signature
        )

    # -- Rekor ------------------------------------------------------------------------

    def log_entry(self, body: bytes) -> dict[str, Any]:
        """Append ``body`` and answer as Rekor v1's ``POST /api/v1/log/entries`` does."""
        index = len(self.leaves)
        self.leaves.append(body)
        size = len(self.leaves)
        root = tree_hash(self.leaves)
        log_id = key_id(self.log_key.public_key())
        integrated = int(time.time())
        promise = {
            "body": b64(body),
            "integratedTime": integrated,
            "logID": log_id.hex(),
            "logIndex": index,
        }
        canonical = json.dumps(promise, sort_keys=True, separators=(",", ":")).encode()
        note = f"rekor.test - 1234567890\n{size}\n{b64(root)}\n"
        note_signature = b64(log_id[:4] + _sign(self.log_key, note.encode()))
        checkpoint = f"{note}\n\u2014 rekor.test {note_signature}\n"
        return {
            hashlib.sha256(body).hexdigest(): {
                "body": b64(body),
                "integratedTime": integrated,
                "logID": log_id.hex(),
                "logIndex": index,
                "verification": {
                    "signedEntryTimestamp": b64(_sign(self.log_key, canonical)),
                    "inclusionProof": {
                        "logIndex": index,
                        "treeSize": size,
                        "rootHash": root.hex(),
                        "hashes": [h.hex() for h in audit_path(index, self.leaves)],
                        "checkpoint": checkpoint,
                    },
                },
            }
        }

    # -- a whole signing, as a client would do it ----------------------------------

    def sign(
        self, data: bytes, workflow: Workflow | None = None, claimed_digest: bytes | None = None
    ) -> dict[str, Any]:
        """A v0.3 bundle for ``data`` (``claimed_digest`` overrides what it says it signs)."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self.issue_certificate(key.public_key(), workflow or Workflow())
        digest = hashlib.sha256(data).digest()
        signature = _sign(key, data)
        pem = cert.public_bytes(serialization.Encoding.PEM)
        body = json.dumps(
            {
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                    "signature": {"content": b64(signature), "publicKey": {"content": b64(pem)}},
                },
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        (entry,) = self.log_entry(body).values()
        proof = entry["verification"]["inclusionProof"]
        tlog_entry = {
            "logIndex": str(entry["logIndex"]),
            "logId": {"keyId": b64(bytes.fromhex(entry["logID"]))},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
            "integratedTime": str(entry["integratedTime"]),
            "inclusionPromise": {
                "signedEntryTimestamp": entry["verification"]["signedEntryTimestamp"]
            },
            "inclusionProof": {
                "logIndex": str(proof["logIndex"]),
                "rootHash": b64(bytes.fromhex(proof["rootHash"])),
                "treeSize": str(proof["treeSize"]),
                "hashes": [b64(bytes.fromhex(h)) for h in proof["hashes"]],
                "checkpoint": {"envelope": proof["checkpoint"]},
            },
            "canonicalizedBody": entry["body"],
        }
        return {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": b64(cert.public_bytes(serialization.Encoding.DER))},
                "tlogEntries": [tlog_entry],
            },
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": b64(claimed_digest or digest)},
                "signature": b64(signature),
            },
        }

    # -- the trust configuration ---------------------------------------------------

    def trust_config(self) -> dict[str, Any]:
        """A ``ClientTrustConfig`` naming this instance's CA, CT log and Rekor log."""
        start = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

        def log(url: str, key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
            return {
                "baseUrl": url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": b64(der(key.public_key())),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": start},
                },
                "logId": {"keyId": b64(key_id(key.public_key()))},
            }

        def service(url: str) -> dict[str, Any]:
            return {
                "url": url,
                "majorApiVersion": 1,
                "validFor": {"start": start},
                "operator": "selfimprove-test",
            }

        return {
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": {
                "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
                "tlogs": [log(self.rekor_url, self.log_key)],
                "certificateAuthorities": [
                    {
                        "subject": {"organization": "selfimprove-test", "commonName": "fulcio"},
                        "uri": self.fulcio_url,
                        "certChain": {
                            "certificates": [
                                {
                                    "rawBytes": b64(
                                        self.ca_cert.public_bytes(serialization.Encoding.DER)
                                    )
                                }
                            ]
                        },
                        "validFor": {"start": start},
                    }
                ],
                "ctlogs": [log("https://ctfe.test", self.ct_key)],
                "timestampAuthorities": [],
            },
            "signingConfig": {
                "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
                "caUrls": [service(self.fulcio_url)],
                "oidcUrls": [service("https://oauth2.test/auth")],
                "rekorTlogUrls": [service(self.rekor_url)],
                "tsaUrls": [],
                "rekorTlogConfig": {"selector": "ANY"},
                "tsaConfig": {"selector": "ANY"},
            },
        }


def unsigned_jwt(claims: dict[str, Any]) -> str:
    """A JWT-shaped OIDC token; sigstore clients do not check its signature (Fulcio does)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.{b64(b'not checked here')}"


def github_token(workflow: Workflow, audience: str = "sigstore") -> str:
    """The claims GitHub Actions puts in a workflow's OIDC token, for ``workflow``."""
    now = int(time.time())
    return unsigned_jwt(
        {
            "iss": GITHUB_ISSUER,
            "aud": audience,
            "sub": f"repo:{workflow.repository}:ref:{workflow.ref}",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "repository": workflow.repository,
            "ref": workflow.ref,
            "sha": workflow.sha,
            "event_name": workflow.trigger,
            "job_workflow_ref": f"{workflow.repository}/{workflow.workflow_path}@{workflow.ref}",
        }
    )


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    parsed: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return parsed


class SigstoreServices(StandIn):
    """OIDC token endpoint + Fulcio + Rekor on one loopback port, backed by an instance."""

    REQUEST_TOKEN = "runner-request-token"

    def __init__(self, workflow: Workflow | None = None) -> None:
        super().__init__()
        self.workflow = workflow or Workflow()
        self.instance = SigstoreInstance(fulcio_url=self.url, rekor_url=self.url)
        self.stall = False  # Fulcio accepts the request and answers only on ``release``
        self.refuse = False  # Fulcio answers 401, as for a token it does not accept
        self.release = threading.Event()

    @property
    def token_url(self) -> str:
        """What GitHub puts in ``ACTIONS_ID_TOKEN_REQUEST_URL`` (it has a query already)."""
        return f"{self.url}/token?api-version=2.0"

    def answer(self, seen: Seen) -> Reply:
        if seen.method == "GET" and seen.path == "/token":
            if seen.headers.get("authorization") != f"bearer {self.REQUEST_TOKEN}":
                return Reply.json(401, {"message": "bad request token"})
            audience = seen.param("audience") or "missing"
            return Reply.json(200, {"value": github_token(self.workflow, audience)})
        if seen.method == "POST" and seen.path == "/api/v2/signingCert":
            if self.refuse:
                return Reply.json(
                    401, {"code": 16, "message": "error processing the identity token"}
                )
            if self.stall:
                self.release.wait(timeout=30)
                return Reply.json(503, {"message": "too late"})
            return self._certificate(seen)
        if seen.method == "POST" and seen.path == "/api/v1/log/entries":
            proposed = json.loads(seen.body)
            body = json.dumps(proposed, sort_keys=True, separators=(",", ":")).encode()
            return Reply.json(201, self.instance.log_entry(body))
        return Reply.json(404, {"message": f"no route {seen.method} {seen.path}"})

    def _certificate(self, seen: Seen) -> Reply:
        """Fulcio: check the proof of possession, bind the token's workflow to the key."""
        token = seen.headers.get("authorization", "").removeprefix("Bearer ")
        claims = _claims(token)
        if claims.get("iss") != GITHUB_ISSUER or claims.get("aud") != "sigstore":
            return Reply.json(401, {"message": "token not for sigstore"})
        pem = base64.b64decode(json.loads(seen.body)["certificateSigningRequest"])
        csr = x509.load_pem_x509_csr(pem)
        public_key = csr.public_key()
        if not csr.is_signature_valid or not isinstance(public_key, ec.EllipticCurvePublicKey):
            return Reply.json(400, {"message": "bad proof of possession"})
        path, _, ref = (
            str(claims["job_workflow_ref"]).removeprefix(f"{claims['repository']}/").partition("@")
        )
        workflow = Workflow(
            repository=claims["repository"],
            ref=ref,
            workflow_path=path,
            trigger=claims["event_name"],
            sha=claims["sha"],
        )
        cert = self.instance.issue_certificate(public_key, workflow)
        chain = [
            c.public_bytes(serialization.Encoding.PEM).decode()
            for c in (cert, self.instance.ca_cert)
        ]
        return Reply.json(201, {"signedCertificateEmbeddedSct": {"chain": {"certificates": chain}}})
