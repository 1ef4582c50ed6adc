"""Options shared by every test tier. Tier-specific fixtures live in each folder's own conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

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


_UNGROUPED = pytest.StashKey[bool]()


@pytest.hookimpl(trylast=True)  # after pytest-xdist's own hook has tagged the grouped tests
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Notice when pytest-xdist's groups did not take (a pytest/xdist pairing that ignores them): the
    real-router tests would then bring up two labs at once and fail far from the cause."""
    if getattr(config.option, "loadgroup", False):  # an xdist worker under --dist loadgroup
        for item in items:
            if item.get_closest_marker("xdist_group") is not None and "@" not in item.nodeid:
                item.stash[_UNGROUPED] = True


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.stash.get(_UNGROUPED, False):
        pytest.fail(
            "pytest-xdist ignored this test's xdist_group, so tests that share one FRR lab could run in two "
            "workers at once: install the pytest and pytest-xdist versions pyproject.toml's dev extra allows"
        )


@pytest.fixture(autouse=True)
def _close_git_repos() -> Iterator[None]:
    """Close every git repo a test opened through the API (``open_git``), as the CLI does after each
    command: an unclosed repo keeps GitPython's ``cat-file`` helpers running until the garbage collector
    finds it, in whichever later test that happens (a ResourceWarning, an error under ``-W error``)."""
    yield
    from netimmutable.artifacts import close_all_git
    from netimmutable.drivers.unsupported import forget_unsupported

    close_all_git()
    forget_unsupported()  # a test's driver that lacks a getter must not answer for the next test
