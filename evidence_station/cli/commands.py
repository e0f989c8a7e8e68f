# ruff: noqa: E501
"""Every command of ``evidence-station``, and the module that defines it — one line each.

The group (``cli/__init__.py``) imports a command's module only when that command runs,
so ``evidence-station clips --json`` does not pay for the web UI, the analysis models or
the report plots (issue 16: "a command answers at once"). The one-line summary is what
the top-level ``--help`` lists without importing every module; tests/test_cli_lazy.py
checks that it is the command's own first help line, and that every command is here.

To add a command: one line, ``"name": ("module_in_cli", "its first help line"),`` where
the module's ``register(group)`` adds it.
"""

from __future__ import annotations

COMMANDS: dict[str, tuple[str, str]] = {
    'init': ('init_cmd', 'Create the data dir, catalog, empty ledger and the Ed25519 station key (0600).'),
    'ingest': ('ingest_cmd', "Ingest a camera's folder or mount through the same pipeline as a docked camera."),
    'clips': ('clips_cmd', 'List clips: id, hash, size, camera, times, labels, flags; search by any field and by date.'),
    'show': ('clips_cmd', 'Show one clip (id or hash prefix): every source, flags, ledger seq, inclusion proof.'),
    'check': ('check_cmd', 'Compare ledger, store and catalog (read-only; repairs nothing).'),
    'catalog': ('check_cmd', 'The catalog (SQLite), a projection of the ledger.'),
    'ledger': ('ledger_cmd', 'The append-only, signed ledger.'),
    'daemon': ('daemon_cmd', 'Watch USB docks and inbox folders; ingest every camera; show per-port status.'),
    'devices': ('daemon_cmd', 'The device register (R16): every camera seen or registered, its officer, the port and storage seen at its last docking.'),
    'device': ('daemon_cmd', 'Register cameras and bind them to officers (R16).'),
    'receipt': ('daemon_cmd', 'Print the docking receipt of SESSION_ID (files, hashes, what was not taken, the signed checkpoint).'),
    'statement': ('analysis_cmd', 'The spoken start statement (语音说明, R2).'),
    'analyze': ('analysis_cmd', 'Analyse clips: media facts, spoken statement, drift, deadlines, interruptions.'),
    'review': ('analysis_cmd', 'The review queue: drift, missing statement, interruption, missing files, late storage — each with its clip, figures and the article it cites.'),
    'label': ('casework_cmd', 'Label clips with case number, party and handler (R5); one ledger event per change.'),
    'evidence': ('casework_cmd', 'Designate CLIPs as evidence (R7) with the written note; one ledger event each.'),
    'access': ('casework_cmd', 'The access register (R10): every viewing and copy, with approver and reason.'),
    'user': ('casework_cmd', 'Local accounts and roles (officer, clerk, auditor, admin).'),
    'web': ('web_cmd', 'Run the local web UI: clerk queue and labelling, review queue, auditor ledger page, admin users and dock status.'),
    'retention': ('retention_cmd', 'Retention (R6, R9, R11): what has expired; nothing is deleted without approval.'),
    'hold': ('retention_cmd', 'Place (or --release) a legal hold: held clips never expire.'),
    'delete': ('retention_cmd', 'Delete expired footage: one account requests, a different admin account approves (R11), each as themselves.'),
    'disc': ('disc_cmd', "Burn a case's evidence to optical disc with its written note (R7); verify discs."),
    'report': ('report_cmd', 'Admin reports with plots (R15), HTML and PDF, each with the current signed checkpoint.'),
    'witness': ('witness_cmd', "Cosign other stations' checkpoints (C2SP tlog-witness)."),
    'scrub': ('scrub_cmd', 'Re-hash every stored original and re-verify the ledger.'),
    'fleet': ('fleet_cmd', "Replicate to the unit's PostgreSQL and S3 Object Lock bucket; search and verify the fleet."),
    'case': ('case_cmd', 'Case files (案卷, R14): formed within 30 days after the enforcement ends.'),
    'models': ('models_cmd', 'Speech models for the spoken start statement (语音说明, R2), pinned by SHA-256.'),
}
