"""Use cases of the auth service."""
