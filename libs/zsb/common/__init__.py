"""Cross-cutting code shared by the gateway and every service (see docs/architecture.md)."""
