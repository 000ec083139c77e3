"""Sigstore bundles beside a patch: made keylessly at the end of a run, checked by verify.

No test talks to the public sigstore instance. A private one (our own CA, CT log and
Rekor log, ``tests/sigstore_instance.py``) stands in, named by the trust configuration
file that ``SELFIMPROVE_SIGSTORE_TRUST_CONFIG`` (and stock ``sigstore --trust-config``)
reads; the real sigstore client signs against it over loopback, and sigstore's own
``Verifier`` checks the bundles offline. One test uses the production trust root that
ships with the package, offline, to show a foreign CA is refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

# Imported up front, so a signing thread spends its deadline on the wire, not on imports.
import sigstore.sign  # noqa: F401

from bot.bundle.read import locate_change, read_change
from bot.bundle.verify import Check, require, verify_change
from bot.bundle.write import write_change
from bot.config import Flags, build_request, sigstore_repository
from bot.core.candidate import Candidate, Target
from bot.core.diffs import make_diff
from bot.core.errors import UserError
from bot.core.evaluation import Evaluation, GateResult
from bot.core.request import Request
from bot.flow.deliver import deliver as deliver_step
from bot.flow.deliver import select
from bot.flow.progress import Progress
from bot.ipfs.cid import cid_of_bytes
from bot.report.results import Delivered, RunResult
from bot.signing import ssh as signing
from bot.signing.sigstore_sign import sign_patches
from tests.conftest import commit_files, make_request, run_cli
from tests.ipfs_servers import closed_port_url
from tests.sigstore_instance import SigstoreInstance, SigstoreServices, Workflow

OLD = "def f(x):\n    return x in [1, 2, 3, 4]\n"
NEW = "def f(x):\n    return x in {1, 2, 3, 4}\n"
GATES = ("syntax", "style", "security", "types", "unit", "integration", "performance")
IDENTITY = "bot@example.com"
REPOSITORY = Workflow().repository
AMBIENT = (
    "GITHUB_ACTIONS",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "GOOGLE_SERVICE_ACCOUNT_NAME",
    "BUILDKITE",
    "GITLAB_CI",
    "CIRCLECI",
    "SELFIMPROVE_IPFS_API",
    "SELFIMPROVE_PINNING_ENDPOINT",
    "SELFIMPROVE_SIGSTORE_REPOSITORY",
    "SELFIMPROVE_SIGSTORE_TRUST_CONFIG",
    "SELFIMPROVE_SIGSTORE",
    "GITHUB_REPOSITORY",
)


@pytest.fixture(autouse=True)
def _no_ambient_identity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Whatever CI runs these tests, no real OIDC identity or sigstore cache is reachable."""
    for name in AMBIENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def accepted_evaluation() -> Evaluation:
    target = Target("pkg/mod.py", "pkg.mod", "f")
    candidate = Candidate(
        target,
        make_diff("pkg/mod.py", OLD, NEW),
        ("pkg/mod.py",),
        "test-driven",
        "codemods",
        "membership-set",
        "set",
    )
    perf = {"ratio": 3.0, "ci_low": 2.5, "ci_high": 3.5, "p_value": 1e-8, "calls": 5, "rounds": 20}
    results = tuple(
        GateResult(g, True, 0.1, "ok", perf if g == "performance" else {}) for g in GATES
    )
    return Evaluation(candidate, results, len(GATES))


@dataclass
class Signed:
    """A repository, a trust file for the bot's SSH key, and a request that signs with it."""

    repo: Path
    allowed: Path
    request: Request

    def write(self) -> Delivered:
        return write_change(self.request, accepted_evaluation(), self.request.output_dir)

    def checks(self, change: Delivered, repository: str | None = None) -> dict[str, Check]:
        found = verify_change(
            locate_change(str(change.metadata)), self.repo, self.allowed, IDENTITY, repository
        )
        return {check.name: check for check in found}

    def cli(self, command: str, change: Delivered, *extra: str) -> subprocess.CompletedProcess[str]:
        return run_cli(
            command,
            str(change.metadata),
            "--allowed-signers",
            str(self.allowed),
            "--identity",
            IDENTITY,
            "--repo",
            str(self.repo),
            *extra,
            cwd=self.repo,
            home=self.request.home,
        )


@pytest.fixture
def signed(make_repo: Callable[..., Path], tmp_path: Path) -> Signed:
    repo = make_repo({"pkg/mod.py": OLD})
    key = tmp_path / "keys" / "bot"
    key.parent.mkdir()
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(signing.generate_key(key, IDENTITY) + "\n")
    request = make_request(
        repo, signing_key=key, home=tmp_path / "home", output_dir=tmp_path / "bundle"
    )
    return Signed(repo, allowed, request)


def sigstore_json(change: Delivered) -> Path:
    return change.patch.with_name(change.patch.name.removesuffix(".patch") + ".sigstore.json")


def trust_private(instance: SigstoreInstance, tmp_path: Path, mp: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "trust_config.json"
    path.write_text(json.dumps(instance.trust_config()))
    mp.setenv("SELFIMPROVE_SIGSTORE_TRUST_CONFIG", str(path))
    return path


def deliver(request: Request) -> RunResult:
    """The run's delivery step, for one accepted change."""
    result = RunResult(run_id="sigstore-test", request=request, evaluations=[accepted_evaluation()])
    deliver_step(request, result, Progress(), select(result.evaluations))
    return result


def bundle_files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


# -- verification -------------------------------------------------------------------------


def test_absent_bundle_is_informational_and_verify_passes(signed: Signed) -> None:
    change = signed.write()
    checks = signed.checks(change, REPOSITORY)
    assert all(c.ok for c in checks.values()), checks
    absent = checks["patch sigstore bundle"]
    assert absent.detail.startswith(f"none ({sigstore_json(change).name} is absent")
    assert checks["patch signature"].detail.startswith(f"signed by {IDENTITY}")
    require(list(checks.values()), locate_change(str(change.metadata)))


def test_malformed_bundle_is_rejected_and_blocks_apply(signed: Signed) -> None:
    change = signed.write()
    sigstore_json(change).write_text('{"mediaType": ')
    checks = signed.checks(change, REPOSITORY)
    assert [name for name, c in checks.items() if not c.ok] == ["patch sigstore bundle"]
    expected = f"failed patch sigstore bundle: {sigstore_json(change).name} is not readable JSON"
    with pytest.raises(UserError, match=re.escape(expected)):
        require(list(checks.values()), locate_change(str(change.metadata)))


def test_json_that_is_not_a_sigstore_bundle_is_rejected(signed: Signed) -> None:
    change = signed.write()
    sigstore_json(change).write_text(json.dumps({"mediaType": "text/plain", "x": 1}))
    check = signed.checks(change)["patch sigstore bundle"]
    assert not check.ok
    assert check.detail.startswith(f"{sigstore_json(change).name} is not a sigstore bundle")


def test_bundle_of_other_bytes_is_rejected(signed: Signed) -> None:
    change = signed.write()
    sigstore_json(change).write_text(json.dumps(SigstoreInstance().sign(b"another patch\n")))
    check = signed.checks(change, REPOSITORY)["patch sigstore bundle"]
    assert not check.ok
    patch_sha = hashlib.sha256(change.patch.read_bytes()).hexdigest()
    other_sha = hashlib.sha256(b"another patch\n").hexdigest()
    assert check.detail == (
        f"{sigstore_json(change).name} signs sha256 {other_sha}, "
        f"but {change.patch.name} has sha256 {patch_sha}"
    )


def test_bundle_from_the_private_instance_verifies_offline_and_allows_apply(
    signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    change = signed.write()
    instance = SigstoreInstance()
    trust_private(instance, tmp_path, monkeypatch)
    sigstore_json(change).write_text(json.dumps(instance.sign(change.patch.read_bytes())))

    checks = signed.checks(change, REPOSITORY)
    assert all(c.ok for c in checks.values()), checks
    assert checks["patch sigstore bundle"].detail.startswith(
        f"signed in GitHub Actions by {Workflow().identity} (the workflow is in {REPOSITORY})"
    )
    unpinned = signed.checks(change)["patch sigstore bundle"]
    assert unpinned.ok and "pass --sigstore-repository" in unpinned.detail

    done = signed.cli("apply", change, "--sigstore-repository", REPOSITORY)
    assert done.returncode == 0, done.stderr
    assert "ok    patch sigstore bundle: signed in GitHub Actions" in done.stdout
    assert (signed.repo / "pkg" / "mod.py").read_text() == NEW


def test_bundle_from_another_repository_is_rejected_with_sigstores_reason(
    signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    change = signed.write()
    instance = SigstoreInstance()
    trust_private(instance, tmp_path, monkeypatch)
    fork = Workflow(repository="mallory/widgets")
    sigstore_json(change).write_text(json.dumps(instance.sign(change.patch.read_bytes(), fork)))
    monkeypatch.setenv("SELFIMPROVE_SIGSTORE_REPOSITORY", REPOSITORY)
    check = signed.checks(change)["patch sigstore bundle"]
    assert not check.ok
    assert "rejected by sigstore" in check.detail
    assert "GitHubWorkflowRepository does not match" in check.detail
    assert "mallory/widgets" in check.detail and REPOSITORY in check.detail


def test_signature_that_does_not_cover_the_patch_is_rejected(
    signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The digest field says "this patch", but the signature is over other bytes."""
    change = signed.write()
    instance = SigstoreInstance()
    trust_private(instance, tmp_path, monkeypatch)
    patch_digest = hashlib.sha256(change.patch.read_bytes()).digest()
    forged = instance.sign(b"something else", claimed_digest=patch_digest)
    sigstore_json(change).write_text(json.dumps(forged))
    check = signed.checks(change, REPOSITORY)["patch sigstore bundle"]
    assert not check.ok
    assert check.detail.endswith("rejected by sigstore: Signature is invalid for input")


def test_a_broken_inclusion_proof_is_rejected(
    signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    change = signed.write()
    instance = SigstoreInstance()
    trust_private(instance, tmp_path, monkeypatch)
    bundle = instance.sign(change.patch.read_bytes())
    proof = bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    assert proof["hashes"], "the private log holds other entries, so the proof has siblings"
    sibling = bytearray(base64.b64decode(proof["hashes"][0]))
    sibling[0] ^= 1
    proof["hashes"][0] = base64.b64encode(bytes(sibling)).decode()
    sigstore_json(change).write_text(json.dumps(bundle))
    check = signed.checks(change, REPOSITORY)["patch sigstore bundle"]
    assert not check.ok
    assert "invalid log entry: inclusion proof contains invalid root hash" in check.detail


def test_production_trust_root_refuses_a_foreign_ca_offline(signed: Signed) -> None:
    """No trust config set: sigstore's shipped production root is used, without network."""
    change = signed.write()
    bundle = SigstoreInstance().sign(change.patch.read_bytes())
    sigstore_json(change).write_text(json.dumps(bundle))
    check = signed.checks(change, REPOSITORY)["patch sigstore bundle"]
    assert not check.ok
    assert "rejected by sigstore" in check.detail
    assert "certificate chain" in check.detail


def test_a_change_can_be_named_by_its_sigstore_bundle(signed: Signed) -> None:
    change = signed.write()
    named = locate_change(str(sigstore_json(change)))
    assert named.metadata == change.metadata and named.patch == change.patch


# -- signing ------------------------------------------------------------------------------


def test_without_an_ambient_credential_the_bundle_is_complete_and_a_note_says_why(
    signed: Signed,
) -> None:
    request = replace(signed.request, sigstore=True, dry_run=False)
    result = deliver(request)
    (change,) = result.delivered
    assert (
        "not signed with sigstore: no ambient OIDC credential (in GitHub Actions the workflow "
        "needs `permissions: id-token: write`)"
    ) in result.notes
    stem = change.patch.name.removesuffix(".patch")
    assert bundle_files(request.output_dir) == {
        f"{stem}.patch",
        f"{stem}.reverse.patch",
        f"{stem}.json",
        f"{stem}.patch.sig",
        f"{stem}.json.sig",
        "ledger.jsonl",
        "report.md",
    }
    assert all(c.ok for c in signed.checks(change).values())


def test_github_actions_without_id_token_permission_is_a_note(
    signed: Signed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    request = replace(signed.request, sigstore=True, dry_run=False)
    result = deliver(request)
    notes = [n for n in result.notes if n.startswith("not signed with sigstore:")]
    assert len(notes) == 1
    assert "the ambient OIDC credential is unusable" in notes[0]
    assert "ACTIONS_ID_TOKEN_REQUEST_TOKEN" in notes[0]
    assert not sigstore_json(result.delivered[0]).exists()


def github_actions(services: SigstoreServices, mp: pytest.MonkeyPatch) -> None:
    mp.setenv("GITHUB_ACTIONS", "true")
    mp.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", services.token_url)
    mp.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", SigstoreServices.REQUEST_TOKEN)


def test_keyless_signing_end_to_end_against_loopback_fulcio_and_rekor(
    signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SigstoreServices() as services:
        github_actions(services, monkeypatch)
        trust = trust_private(services.instance, tmp_path, monkeypatch)
        result = deliver(replace(signed.request, sigstore=True, dry_run=False))
        assert len(services.seen("/token")) == 1
        assert len(services.seen("/api/v2/signingCert")) == 1
        assert len(services.seen("/api/v1/log/entries")) == 2  # the patch and its metadata
    (change,) = result.delivered
    bundle = sigstore_json(change)
    assert f"signed with sigstore: {bundle.name}" in result.notes
    assert f"signed with sigstore: {change.metadata.name}.sigstore.json" in result.notes
    assert not any(n.startswith("not signed with sigstore") for n in result.notes)

    checks = signed.checks(change, REPOSITORY)
    assert all(c.ok for c in checks.values()), checks
    assert Workflow().identity in checks["patch sigstore bundle"].detail

    # The stock CLI, as the README tells a maintainer to run it, agrees both ways.
    def stock(repository: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "sigstore", "--trust-config", str(trust), "verify"]
        options = ["--offline", "--bundle", str(bundle), "--repository", repository]
        return subprocess.run(
            [*command, "github", *options, str(change.patch)],
            capture_output=True,
            text=True,
            timeout=120,
        )

    accepted = stock(REPOSITORY)
    assert accepted.returncode == 0, accepted.stderr
    assert f"OK: {change.patch}" in accepted.stderr
    assert stock("mallory/widgets").returncode != 0


def test_an_unreachable_fulcio_is_a_note_and_loses_nothing(
    signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SigstoreServices() as services:
        github_actions(services, monkeypatch)
        services.instance.fulcio_url = closed_port_url()
        trust_private(services.instance, tmp_path, monkeypatch)
        result = deliver(replace(signed.request, sigstore=True, dry_run=False))
        assert len(services.seen("/token")) == 1
        assert services.seen("/api/v1/log/entries") == []
    (change,) = result.delivered
    notes = [n for n in result.notes if "sigstore" in n]
    assert len(notes) == 1 and notes[0].startswith("not signed with sigstore: ")
    assert "Connection refused" in notes[0] or "Max retries" in notes[0], notes[0]
    assert not sigstore_json(change).exists()
    assert all(c.ok for c in signed.checks(change).values())


def test_a_refused_token_is_a_note_with_fulcios_answer(
    signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SigstoreServices() as services:
        github_actions(services, monkeypatch)
        trust_private(services.instance, tmp_path, monkeypatch)
        services.refuse = True
        result = deliver(replace(signed.request, sigstore=True, dry_run=False))
        assert services.seen("/api/v1/log/entries") == []
    notes = [n for n in result.notes if "sigstore" in n]
    assert len(notes) == 1
    assert notes[0].startswith("not signed with sigstore: FulcioClientError: 401 Client Error")
    assert not sigstore_json(result.delivered[0]).exists()


def test_a_service_that_never_answers_is_given_up_on(
    signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    change = signed.write()
    with SigstoreServices() as services:
        github_actions(services, monkeypatch)
        trust_private(services.instance, tmp_path, monkeypatch)
        services.stall = True
        try:
            outcome = sign_patches([change.patch], deadline=5.0)
            assert len(services.seen("/api/v2/signingCert")) == 1
        finally:
            services.release.set()
    assert outcome.written == []
    assert (
        outcome.note == "not signed with sigstore: no answer from the sigstore services within 5 s"
    )


def test_a_dry_run_never_signs_with_sigstore(
    signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SigstoreServices() as services:
        github_actions(services, monkeypatch)
        trust_private(services.instance, tmp_path, monkeypatch)
        result = deliver(replace(signed.request, sigstore=True, dry_run=True))
        assert services.requests == []
    assert "not signed with sigstore: a dry run touches no remote (Fulcio, Rekor)" in result.notes
    assert not sigstore_json(result.delivered[0]).exists()


def test_not_asked_means_not_attempted(
    signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SigstoreServices() as services:
        github_actions(services, monkeypatch)
        result = deliver(replace(signed.request, dry_run=False))
        assert services.requests == []
    assert not any("sigstore" in n for n in result.notes)


# -- configuration ------------------------------------------------------------------------


def test_sigstore_switch_from_config_env_and_flag(
    make_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo({"pyproject.toml": "[tool.selfimprove]\nsigstore = true\n"})
    assert build_request(Flags(path=str(root))).sigstore is True
    monkeypatch.setenv("SELFIMPROVE_SIGSTORE", "0")
    assert build_request(Flags(path=str(root))).sigstore is False
    assert build_request(Flags(path=str(root), sigstore=True)).sigstore is True
    monkeypatch.setenv("SELFIMPROVE_SIGSTORE", "perhaps")
    with pytest.raises(UserError, match="SELFIMPROVE_SIGSTORE must be"):
        build_request(Flags(path=str(root)))
    monkeypatch.delenv("SELFIMPROVE_SIGSTORE")
    commit_files(root, {"pyproject.toml": '[tool.selfimprove]\nsigstore = "yes"\n'})
    with pytest.raises(UserError, match=r"'sigstore' in .* must be true or false"):
        build_request(Flags(path=str(root)))


def test_a_bundle_signed_only_with_sigstore_verifies_without_an_ssh_trust_file(
    signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In Actions there is usually no SSH key: the sigstore bundles vouch for both files."""
    keyless = replace(signed.request, signing_key=None, sigstore=True, dry_run=False)
    with SigstoreServices() as services:
        github_actions(services, monkeypatch)
        trust_private(services.instance, tmp_path, monkeypatch)
        result = deliver(keyless)
    (change,) = result.delivered
    assert not change.patch.with_name(change.patch.name + ".sig").exists()
    found = verify_change(
        locate_change(str(change.metadata)), signed.repo, None, IDENTITY, REPOSITORY
    )
    checks = {check.name: check for check in found}
    assert all(c.ok for c in checks.values()), checks
    assert checks["patch signature"].detail.startswith("sigstore: signed in GitHub Actions by")
    assert checks["metadata signature"].detail.startswith("sigstore: signed in GitHub Actions by")

    monkeypatch.delenv("SELFIMPROVE_ALLOWED_SIGNERS", raising=False)
    done = run_cli(
        "apply",
        str(change.metadata),
        "--repo",
        str(signed.repo),
        "--sigstore-repository",
        REPOSITORY,
        cwd=signed.repo,
        home=keyless.home,
    )
    assert done.returncode == 0, done.stderr
    assert "ok    metadata signature: sigstore: signed in GitHub Actions" in done.stdout

    facts = json.loads(change.metadata.read_text())
    facts["patch_cid"] = "bafkreitampered"
    change.metadata.write_text(json.dumps(facts))
    tampered = verify_change(
        locate_change(str(change.metadata)), signed.repo, None, IDENTITY, REPOSITORY
    )
    failed = {c.name: c.detail for c in tampered if not c.ok}
    assert "metadata signature" in failed and "signs sha256" in failed["metadata signature"]


def test_an_ssh_signature_with_no_trust_file_fails_with_how_to_name_one(signed: Signed) -> None:
    change = signed.write()
    found = verify_change(locate_change(str(change.metadata)), signed.repo, None, IDENTITY)
    failed = {c.name: c.detail for c in found if not c.ok}
    assert set(failed) == {"patch signature", "metadata signature"}
    assert failed["patch signature"].startswith("no allowed_signers file to check it against")
    done = run_cli(
        "verify",
        str(change.metadata),
        "--repo",
        str(signed.repo),
        cwd=signed.repo,
        home=signed.request.home,
    )
    assert done.returncode == 2
    assert "failed patch signature: no allowed_signers file" in done.stderr


# -- no downgrade -------------------------------------------------------------------------

FORGER = Workflow(repository="mallory/widgets")


def forge(change: Delivered, instance: SigstoreInstance) -> None:
    """Mallory's edit: a changed patch, its SSH signatures stripped, her own sigstore bundles.

    Her bundles are genuine: her repository's workflow really signed the new bytes.
    """
    patch = change.patch.read_text().replace("{1, 2, 3, 4}", "{1, 2, 3, 4, 5}")
    assert patch != change.patch.read_text()
    change.patch.write_text(patch)
    facts = json.loads(change.metadata.read_text())
    facts["patch_sha256"] = hashlib.sha256(patch.encode()).hexdigest()
    facts["patch_cid"] = cid_of_bytes(patch.encode())
    change.metadata.write_text(json.dumps(facts))
    for path in (change.patch, change.metadata):
        path.with_name(path.name + ".sig").unlink()
        keyless = instance.sign(path.read_bytes(), FORGER)
        path.with_name(path.name.removesuffix(".patch") + ".sigstore.json").write_text(
            json.dumps(keyless)
        )


@pytest.mark.parametrize(
    ("ssh", "pinned", "accepted", "reason"),
    [
        (True, None, False, ".patch.sig is missing: the patch has no SSH signature"),
        (True, FORGER.repository, False, ".patch.sig is missing: the patch has no SSH signature"),
        (False, None, False, "a sigstore bundle alone shows only that some GitHub Actions"),
        (False, REPOSITORY, False, "GitHubWorkflowRepository does not match"),
        # the protection off: trusting whatever repository signed, the forgery passes
        (False, FORGER.repository, True, "sigstore: signed in GitHub Actions"),
    ],
)
def test_stripped_ssh_signatures_and_a_foreign_sigstore_bundle_are_rejected(
    signed: Signed,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ssh: bool,
    pinned: str | None,
    accepted: bool,
    reason: str,
) -> None:
    change = signed.write()
    instance = SigstoreInstance()
    trust_private(instance, tmp_path, monkeypatch)
    forge(change, instance)
    found = verify_change(
        locate_change(str(change.metadata)),
        signed.repo,
        signed.allowed if ssh else None,
        IDENTITY,
        pinned,
    )
    checks = {check.name: check for check in found}
    assert all(c.ok for c in checks.values()) is accepted, checks
    assert checks["patch sha256"].ok and checks["patch CID"].ok  # the digests were redone
    assert reason in checks["patch signature"].detail
    assert checks["metadata signature"].ok is accepted


def test_verify_without_a_pinned_repository_names_the_flag(
    signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    change = signed.write()
    instance = SigstoreInstance()
    trust = trust_private(instance, tmp_path, monkeypatch)
    forge(change, instance)
    env = {"SELFIMPROVE_SIGSTORE_TRUST_CONFIG": str(trust)}
    args = ("verify", str(change.metadata), "--repo", str(signed.repo))
    done = run_cli(*args, cwd=signed.repo, home=signed.request.home, env=env)
    assert done.returncode == 2
    assert "failed patch signature: a sigstore bundle alone shows only" in done.stderr
    assert "pass --sigstore-repository OWNER/REPO" in done.stderr
    assert "Traceback" not in done.stderr
    # In Actions the running repository pins it; the forger's bundle then fails its check.
    actions = env | {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": REPOSITORY}
    done = run_cli(*args, cwd=signed.repo, home=signed.request.home, env=actions)
    assert done.returncode == 2
    assert "GitHubWorkflowRepository does not match" in done.stdout


def test_the_pinned_repository_comes_from_flag_env_config_then_actions(
    make_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    plain = make_repo({"a.py": ""}, name="plain")
    assert sigstore_repository(None, str(plain)) is None
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/actions")
    assert sigstore_repository(None, str(plain)) is None  # outside Actions it pins nothing
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert sigstore_repository(None, str(plain)) == "octo/actions"
    root = make_repo({"pyproject.toml": '[tool.selfimprove]\nrepository = "octo/config"\n'})
    assert sigstore_repository(None, str(root)) == "octo/config"
    monkeypatch.setenv("SELFIMPROVE_SIGSTORE_REPOSITORY", "octo/env")
    assert sigstore_repository(None, str(root)) == "octo/env"
    assert sigstore_repository("octo/flag", str(root)) == "octo/flag"
    with pytest.raises(UserError, match="a GitHub repository is owner/name, not 'octo'"):
        sigstore_repository("octo", str(root))


@pytest.mark.parametrize("name", ["../outside.patch", "sub/x.patch", "..", "", 7])
def test_a_metadata_field_naming_a_path_is_a_clear_error(
    signed: Signed, name: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    change = signed.write()
    facts = json.loads(change.metadata.read_text())
    facts["patch"] = name
    change.metadata.write_text(json.dumps(facts))
    with pytest.raises(UserError, match=r"names its patch .*: it must be a file name"):
        locate_change(str(change.metadata))
    with pytest.raises(UserError, match=r"names its patch .*: it must be a file name"):
        read_change(change.metadata)  # how merge and deliver read a bundle
    facts["patch"] = change.patch.name
    facts["reverse_patch"] = name
    change.metadata.write_text(json.dumps(facts))
    with pytest.raises(UserError, match=r"names its reverse patch .*without '/' or '\.\.'"):
        locate_change(str(change.metadata))
    with pytest.raises(UserError, match=r"names its reverse patch"):
        read_change(change.metadata)
