"""Network repositories backed by ``sim`` devices, for the verify tests.

``make_sim_net`` builds the example network (four routers, eBGP ring) in a temporary git repo: render,
commit a release, create one simulated device per host running its snapshot (as a deploy would leave it),
point ``.netimmutable/connections.yaml`` at them and record the release good. ``make_large_sim_net``
builds N small devices without templates (snapshots written directly), with good refs set in bulk.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from click.testing import Result

from netimmutable.artifacts import commit_release, open_git
from netimmutable.drivers.sim import SimLab
from netimmutable.inventory import load_inventory
from netimmutable.records import Records
from netimmutable.render import compare_snapshots, render_hosts, write_snapshots
from netimmutable.repo import NetworkRepo, open_repo
from netimmutable.scaffold import init_repo
from tests.unit.netrepo_helpers import commit_all, git, run_cli, write_files

__all__ = ["SimNet", "make_large_sim_net", "make_sim_net"]


@dataclass
class SimNet:
    root: Path
    lab: SimLab
    release: str

    @property
    def repo(self) -> NetworkRepo:
        return open_repo(self.root)

    def snapshot(self, host: str) -> str:
        return (self.root / "snapshots" / f"{host}.cfg").read_text(encoding="utf-8")

    def cli(self, *args: str) -> Result:
        return run_cli([*args, "--repo", str(self.root)])

    def verify(self, *args: str) -> Result:
        return self.cli("verify", *args)

    def verify_json(self, *args: str) -> tuple[int, dict[str, Any]]:
        result = self.verify("--format", "json", *args)
        return result.exit_code, json.loads(result.stdout)

    def mark_good(self, hosts: Iterable[str], release: str | None = None) -> None:
        with open_git(self.repo) as gitrepo:
            records = Records(self.repo, gitrepo)
            for host in hosts:
                records.mark_good(host, release or self.release, "test-run")

    def write_connections(self, hosts: Iterable[str]) -> None:
        entries = {h: self.lab.connection_entry(h) for h in hosts}
        path = self.root / ".netimmutable" / "connections.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump({"hosts": entries}), encoding="utf-8")


def _render_and_commit(root: Path, message: str) -> str:
    repo = open_repo(root)
    loaded = load_inventory(repo)
    rendered = render_hosts(repo, loaded.hosts())
    write_snapshots(repo, rendered, compare_snapshots(repo, rendered, [h.name for h in loaded.hosts()]))
    with open_git(repo) as gitrepo:
        result = commit_release(repo, gitrepo, rendered, message)
    assert result.release is not None
    return result.release.sha


def make_sim_net(root: Path, *, good: Sequence[str] | None = None, settings: str | None = None) -> SimNet:
    """The example network on sim devices; ``good``: hosts recorded good (default: all four)."""
    init_repo(root, example=True)
    git(root, "config", "user.name", "Test Author")
    git(root, "config", "user.email", "author@example.net")
    if settings is not None:
        (root / "netimmutable.yaml").write_text(settings, encoding="utf-8")
        commit_all(root, "settings")
    release = _render_and_commit(root, "first release")
    lab = SimLab(root / ".netimmutable" / "lab" / "sim")
    hosts = sorted(p.stem for p in (root / "snapshots").glob("*.cfg"))
    for host in hosts:
        lab.create(host, (root / "snapshots" / f"{host}.cfg").read_text(encoding="utf-8"))
    net = SimNet(root, lab, release)
    net.write_connections(hosts)
    net.mark_good(hosts if good is None else good)
    return net


def small_config(host: str, n: int) -> str:
    return (
        "frr version 8.4.4\nfrr defaults traditional\n"
        f"hostname {host}\nservice integrated-vtysh-config\n!\n"
        f"interface lo\n ip address 10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}/32\nexit\n!\nend\n"
    )


_SMALL_TEMPLATE = (
    "frr version 8.4.4\nfrr defaults traditional\n"
    "hostname {{ host.name }}\nservice integrated-vtysh-config\n!\n"
    "interface lo\n ip address {{ lo }}\nexit\n!\nend\n"
)


def _loopback(config: str) -> str:
    return config.split(" ip address ", 1)[1].split("\n", 1)[0]


def make_large_sim_net(root: Path, count: int) -> SimNet:
    """``count`` sim devices h0000..., snapshots written directly (exactly what the one template renders from
    each host's ``lo``: a release by content) and committed, good refs set with one git call."""
    init_repo(root)
    git(root, "config", "user.name", "Test Author")
    git(root, "config", "user.email", "author@example.net")
    names = [f"h{i:04d}" for i in range(count)]
    configs = {name: small_config(name, i) for i, name in enumerate(names)}
    hosts_yaml = "".join(
        f"{name}:\n  platform: frr\n  data: {{lo: {_loopback(configs[name])}}}\n" for name in names
    )
    files: dict[str, str | bytes] = {
        "inventory/hosts.yaml": hosts_yaml,
        "templates/frr/main.j2": _SMALL_TEMPLATE,
    }
    files.update({f"snapshots/{name}.cfg": text for name, text in configs.items()})
    write_files(root, files)
    release = commit_all(root, "release of many devices")
    lab = SimLab(root / ".netimmutable" / "lab" / "sim")
    for name, text in configs.items():
        lab.create(name, text)
    net = SimNet(root, lab, release)
    net.write_connections(names)
    commands = "".join(f"update refs/netimmutable/good/{name} {release}\n" for name in names)
    subprocess.run(["git", "update-ref", "--stdin"], cwd=root, input=commands, text=True, check=True)
    return net
