"""Marks every test by the folder it lives in (unit / integration / e2e / contract), so `pytest -m unit`
runs the fast suite and nothing needs a decorator to be classified."""

import pytest

_KINDS = ("unit", "integration", "e2e", "contract")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.parts
        for kind in _KINDS:
            if kind in parts:
                item.add_marker(getattr(pytest.mark, kind))
                break
