"""Retention classes and rules as pure functions, the China working-day calendar, disc
burn-out and reports (DESIGN.md). Depends only on ``hashing``. Empty until the
retention issue lands; kept so the package boundary exists from day one."""
