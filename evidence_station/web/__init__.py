"""The local web UI (FastAPI + Jinja2): clerks label and designate, auditors look at the
ledger, admins manage users and see the docks. Sessions are Starlette's signed cookies,
passwords argon2 (``casework.accounts``), login throttled by slowapi, every form carries a
per-session CSRF token, and every change goes through ``casework.service`` — the same
rules and ledger events as the CLI."""
