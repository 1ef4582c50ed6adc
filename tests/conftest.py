"""Options shared by every test tier. Tier-specific fixtures live in each folder's own conftest.py."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite golden files (the example network's snapshots/) from the current inputs instead of "
        "failing when they are stale. Review the result with `git diff` before committing it.",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run was started with --update-golden."""
    return bool(request.config.getoption("--update-golden"))
