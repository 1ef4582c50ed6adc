"""Every ``Examples:`` block in the package runs (the house style: pure helpers documented by examples that
cannot go stale)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import netimmutable

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(netimmutable.__path__, "netimmutable.")
    if not m.name.endswith("__main__")  # runs the CLI when imported
)


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_of_each_module_hold(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
