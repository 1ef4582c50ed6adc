"""``netimmutable adopt`` on the real FRR lab (issue 17): routers configured by hand, never deployed by
netimmutable -> adopt -> verify in sync (expectations included) -> plan shows nothing -> a templated change to
an adopted host deploys like any other."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from netimmutable.cli import main
from netimmutable.outcomes import HostOutcome
from netimmutable.scaffold import init_repo

from .conftest import FrrLab

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("frr-lab")]

HAND_ROUTE = "ip route 10.255.130.0/24 blackhole"
TEMPLATED_ROUTE = "ip route 10.255.131.0/24 blackhole"


def _cli(root: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--repo", str(root)], catch_exceptions=False)


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def hand_made(frr_lab: FrrLab, tmp_path: Path) -> Iterator[Path]:
    """A network repository that has never deployed to the lab, whose r1 an engineer changed by hand."""
    root = init_repo(tmp_path / "network")
    for name in ("inventory", "templates"):
        shutil.rmtree(root / name, ignore_errors=True)
        shutil.copytree(frr_lab.repo / name, root / name)
    secrets = tmp_path / "outside" / "secrets.yaml"
    settings = "version: 1\napproval_branch: main\ndeploy:\n  settle_timeout: 15\n  settle_interval: 0.5\n"
    (root / "netimmutable.yaml").write_text(settings + f"secrets_file: {secrets}\n")
    (root / ".netimmutable").mkdir(exist_ok=True)
    shutil.copy2(
        frr_lab.repo / ".netimmutable" / "connections.yaml", root / ".netimmutable" / "connections.yaml"
    )
    for router in frr_lab.routers.values():
        router.reset()
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.net", "commit", "-qm", "inputs")
    frr_lab.router("r1").oob_edit([HAND_ROUTE])
    try:
        yield root
    finally:
        for router in frr_lab.routers.values():
            router.reset()


def test_adopt_a_hand_configured_lab_then_verify_plan_and_deploy(hand_made: Path, frr_lab: FrrLab) -> None:
    root = hand_made

    adopted = _cli(root, "adopt", "--format", "json")

    assert adopted.exit_code == 0, adopted.output
    report = json.loads(adopted.stdout)
    assert {h["host"]: h["outcome"] for h in report["hosts"]} == dict.fromkeys(
        ("r1", "r2", "r3", "r4"), HostOutcome.UNCHANGED.value
    )
    assert HAND_ROUTE in (root / "templates" / "adopted" / "r1.j2").read_text()
    assert HAND_ROUTE in (root / "snapshots" / "r1.cfg").read_text()  # the release is what r1 runs today
    assert frr_lab.router("r1").running().count(HAND_ROUTE) == 1  # nothing was pushed

    verified = _cli(root, "verify", "--format", "json")
    assert verified.exit_code == 0, verified.output
    assert {h["state"] for h in json.loads(verified.stdout)["hosts"]} == {"in-sync"}

    planned = _cli(root, "plan", "--format", "json")
    assert planned.exit_code == 0, planned.output
    assert {h["status"] for h in json.loads(planned.stdout)["hosts"]} == {"unchanged"}, planned.stdout

    # templating replaces the verbatim copy step by step: one more route on r1, reviewed as a release
    template = root / "templates" / "adopted" / "r1.j2"
    text = template.read_text()
    assert HAND_ROUTE in text
    template.write_text(text.replace(HAND_ROUTE, f"{HAND_ROUTE}\n{TEMPLATED_ROUTE}", 1))
    committed = _cli(root, "commit", "-m", "r1: one more route")
    assert committed.exit_code == 0, committed.output

    deployed = _cli(root, "deploy", "--limit", "r1", "--yes", "--soak", "0", "--format", "json")

    assert deployed.exit_code == 0, deployed.output
    [r1] = json.loads(deployed.stdout)["hosts"]
    assert r1["outcome"] == HostOutcome.DEPLOYED.value, r1
    running = frr_lab.router("r1").running()
    assert HAND_ROUTE in running and TEMPLATED_ROUTE in running
