"""Integrity core: streaming SHA-256, the append-only ledger, RFC 6962 Merkle proofs,
C2SP signed checkpoints and the auditor's offline verifier.

This package imports nothing else of ours (DESIGN.md, "Packages") so that an auditor
can run :mod:`hashing.verify` with only the standard library and ``cryptography``.
"""
