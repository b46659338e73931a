"""Rules of identity verification (pure, no I/O)."""
