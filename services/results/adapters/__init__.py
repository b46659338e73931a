"""Tables, file reading and bulk writes of the results service."""

from services.results.adapters.tables import Base

__all__ = ["Base"]
