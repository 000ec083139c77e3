"""IPFS: the local CID, Kubo RPC, the Pinning Service API, fetching by CID."""
