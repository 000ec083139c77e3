"""Signatures: SSH (SSHSIG) with allowed_signers, and sigstore keyless."""
