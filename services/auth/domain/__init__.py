"""Rules of the auth service (pure, no I/O)."""
