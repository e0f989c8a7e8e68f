"""The local web UI (FastAPI + Jinja2): clerks label and designate, auditors look at the
ledger, admins manage users and see the docks. Routes are grouped per area in
``web.routes`` with the session user and role as dependencies (``web.deps``). A login is
a station-side session (``casework.logins``) whose id rides in a signed cookie, passwords
are argon2 (``casework.accounts``), failed logins are throttled per address and per
account (``web.throttle``), every form carries a per-session CSRF token, and every change
goes through ``casework.service`` — the same rules and ledger events as the CLI."""
