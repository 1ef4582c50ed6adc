"""Small real network repositories (git) on simulated devices, for the change-window tests.

``net``: the example network (four routers, eBGP ring) committed as a first release, a sim lab running it,
and a first deploy done, so every router has a last-good release. ``fresh_net``: the same without that first
deploy (first deployments). Settle timers are short: simulated devices converge at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from netimmutable.artifacts import commit_release, open_git
from netimmutable.cli import main
from netimmutable.deploy import deploy, rollback
from netimmutable.deploy_model import DeployOptions, ProgressEvent, RunReport
from netimmutable.drivers.sim import SimDriver, SimLab
from netimmutable.inventory import load_inventory
from netimmutable.lab import lab_down, lab_up
from netimmutable.records import Records
from netimmutable.render import compare_snapshots, render_hosts, write_snapshots
from netimmutable.repo import NetworkRepo, open_repo
from netimmutable.scaffold import init_repo

SETTINGS = """\
version: 1
approval_branch: main
deploy:
  batch_size: 10
  workers: 10
  canary: 1
  max_failures: 1
  on_failure: stop
  revert_in: 60
  settle_timeout: 1.5
  settle_interval: 0.1
  soak: 0  # no soak here: tests/unit/deploy/test_soak.py tests it
"""


@dataclass
class Net:
    """A network repository on simulated devices, with the helpers the tests share."""

    root: Path
    first: str = ""
    """The first release (what the lab was built from)."""
    events: list[ProgressEvent] = field(default_factory=list)

    @property
    def repo(self) -> NetworkRepo:
        return open_repo(self.root)

    @property
    def lab(self) -> SimLab:
        return SimLab(self.root / ".netimmutable" / "lab" / "sim")

    def records(self) -> Records:
        return Records(self.repo, open_git(self.repo))

    def commit(self, message: str) -> str:
        repo = self.repo
        loaded = load_inventory(repo)
        rendered = render_hosts(repo, loaded.hosts())
        write_snapshots(repo, rendered, compare_snapshots(repo, rendered, [h.name for h in loaded.hosts()]))
        result = commit_release(repo, open_git(repo), rendered, message)
        assert result.release is not None, "nothing changed"
        return result.release.sha

    def edit_hosts(self, pattern: str, replacement: str, *, host: str | None = None) -> None:
        """Regex-replace once in inventory/hosts.yaml (inside ``host``'s section when given)."""
        path = self.root / "inventory" / "hosts.yaml"
        text = path.read_text()
        start = text.index(f"\n{host}:") if host else 0
        new = text[:start] + re.sub(pattern, replacement, text[start:], count=1)
        assert new != text, f"{pattern!r} not found"
        path.write_text(new)

    def edit_groups(self, old: str, new: str) -> None:
        path = self.root / "inventory" / "groups.yaml"
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))

    def announce(self, host: str, prefix: str) -> str:
        """Good change: ``host`` announces one more prefix (and its blackhole route); returns the release."""
        self.edit_hosts(r"announce: \[([^\]]*)\]", rf"announce: [\1, {prefix}]", host=host)
        self.edit_hosts(
            r"(static_routes:\n)", rf"\1      - {{prefix: {prefix}, nexthop: blackhole}}\n", host=host
        )
        return self.commit(f"{host}: announce {prefix}")

    def wrong_remote_as(self, host: str = "r2", peer: str = "10.255.12.1", wrong: int = 65009) -> str:
        """Good change: ``host`` announces one more prefix (and its blackhole route); returns the release."""
        self.edit_hosts(rf"(\{{address: {re.escape(peer)}, remote_as: )\d+", rf"\g<1>{wrong}", host=host)
        return self.commit(f"{host}: wrong remote-as for {peer}")

    def change_all(self) -> str:
        """Good change: ``host`` announces one more prefix (and its blackhole route); returns the release."""
        self.edit_groups(
            "bgp_timers: {keepalive: 3, hold: 9, connect: 2}",
            "bgp_timers: {keepalive: 5, hold: 15, connect: 2}",
        )
        return self.commit("all: bgp timers 5/15")

    def deploy(self, **options: Any) -> RunReport:
        self.events.clear()
        progress: Callable[[ProgressEvent], None] = options.pop("progress", self.events.append)
        return deploy(self.repo, DeployOptions(**options), progress=progress)

    def rollback(self, hosts: list[str], to_rev: str | None = None, **options: Any) -> RunReport:
        return rollback(self.repo, hosts, to_rev, DeployOptions(**options), progress=self.events.append)

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(main, [*args, "--repo", str(self.root)], catch_exceptions=False)

    def bgp(self, host: str) -> dict[str, Any]:
        """BGP neighbours of ``host`` as its NAPALM driver reports them (address -> peer)."""
        driver = SimDriver(host, optional_args={"lab_dir": str(self.lab.root)})
        driver.open()
        try:
            peers: dict[str, Any] = driver.get_bgp_neighbors()["global"]["peers"]
            return peers
        finally:
            driver.close()

    def established(self, host: str) -> set[str]:
        return {addr for addr, peer in self.bgp(host).items() if peer["is_up"]}

    def artifact(self, rev: str, host: str) -> str:
        return open_git(self.repo).git.show(f"{rev}:snapshots/{host}.cfg") + "\n"

    def no_pending(self) -> None:
        for host in self.lab.hosts():
            assert not self.lab.has_pending(host), f"{host} has a pending commit"


def _build(tmp_path: Path, baseline: bool) -> Iterator[Net]:
    root = init_repo(tmp_path / "network", example=True)
    (root / "netimmutable.yaml").write_text(SETTINGS)
    net = Net(root)
    net.first = net.commit("first release")
    lab_up(root, sim=True)
    if baseline:
        report = net.deploy()
        assert report.exit_code == 0, report
    try:
        yield net
    finally:
        lab_down(root)


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    yield from _build(tmp_path, baseline=True)


@pytest.fixture
def fresh_net(tmp_path: Path) -> Iterator[Net]:
    yield from _build(tmp_path, baseline=False)
