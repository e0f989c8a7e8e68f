"""Casework: what clerks, auditors and admins do with clips after they are stored —
labels (R5), evidence designation (R7, R8), the access register (R10, R12), users and
roles. Rules are pure functions (``rules``); every change is a ledger event recorded
through ``writer`` (directly, or through the running daemon's control socket)."""
