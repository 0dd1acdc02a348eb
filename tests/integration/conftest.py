"""Fixtures of the integration tests beside the suite's (tests/conftest.py)."""

from .chunk_equivalence import databases  # noqa: F401 - a fixture, for the tests of set-based chunks
