"""The lab API itself: status, refusals, idempotent teardown."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from netimmutable.errors import LabError
from netimmutable.lab import lab_down, lab_status, lab_up
from tests.integration.conftest import REPO, FrrLab

# one lab per machine: every real-router test runs in the same xdist worker, one after another
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("frr-lab")]


def test_status_reports_every_router_established(frr_lab: FrrLab) -> None:
    status = lab_status(frr_lab.repo)
    assert status.up and status.healthy and status.kind == "frr"
    assert [(r.name, r.bgp_established, r.namespace) for r in status.routers] == [
        (f"r{i}", 2, f"ni-r{i}") for i in range(1, 5)
    ]
    assert status.to_json()["healthy"] is True


def test_a_second_lab_is_refused_while_one_is_up(frr_lab: FrrLab, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    for name in ("inventory", "templates"):
        shutil.copytree(frr_lab.repo / name, other / name)
    shutil.copy2(REPO / "netimmutable.yaml", other / "netimmutable.yaml")
    shutil.copytree(frr_lab.repo / "snapshots", other / "snapshots")
    with pytest.raises(LabError, match="already up"):
        lab_up(other)
    lab_down(other)  # nothing of its own: a no-op that must not touch the running lab
    assert lab_status(frr_lab.repo).healthy


def test_missing_snapshot_asks_for_render(frr_lab: FrrLab, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("inventory", "templates"):
        shutil.copytree(frr_lab.repo / name, bare / name)
    shutil.copy2(REPO / "netimmutable.yaml", bare / "netimmutable.yaml")
    with pytest.raises(LabError, match="netimmutable render"):
        lab_up(bare)
    assert not (bare / ".netimmutable" / "lab").exists()
    assert not (bare / ".netimmutable" / "connections.yaml").exists()
