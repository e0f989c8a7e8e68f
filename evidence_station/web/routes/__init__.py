"""The web UI's routes, one router per area (frigate's ``api/`` habit)."""
