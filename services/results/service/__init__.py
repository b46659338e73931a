"""Use cases of the results service."""
