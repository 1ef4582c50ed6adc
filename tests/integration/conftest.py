"""The real FRR lab for integration tests, up once per session in a temporary copy of the example network.

Needs root and the Debian packages ``frr frr-pythontools openssh-server``. Without them the tests are skipped,
except when the environment variable ``CI`` is set: then they fail (CI must never skip them silently).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import napalm
import pytest
import yaml
from napalm.base import NetworkDriver

from netimmutable.artifacts import commit_release, open_git
from netimmutable.deploy import deploy
from netimmutable.deploy_model import DeployOptions, RunReport
from netimmutable.errors import LabError
from netimmutable.inventory import load_inventory
from netimmutable.lab import LabStatus, lab_down, lab_up
from netimmutable.lab.frr_lab import bgp_established, check_prerequisites
from netimmutable.lab.netns import alive
from netimmutable.lab.state import load_state
from netimmutable.records import Records
from netimmutable.render import compare_snapshots, render_hosts, write_snapshots
from netimmutable.repo import open_repo
from netimmutable.scaffold import init_repo

REPO = Path(__file__).resolve().parents[2]
WORKDIR = "/etc/frr/netimmutable"


def _unavailable() -> str | None:
    try:
        check_prerequisites()
    except LabError as exc:
        return str(exc)
    return None


def _require_lab() -> None:
    reason = _unavailable()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"integration tests cannot run in CI: {reason}")
    pytest.skip(reason)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].startswith("Z")


def _copy_example(target: Path) -> Path:
    target.mkdir(parents=True)
    for name in ("inventory", "templates"):
        shutil.copytree(REPO / name, target / name)
    shutil.copy2(REPO / "netimmutable.yaml", target / "netimmutable.yaml")
    # the project's own render produces the snapshots the lab loads
    subprocess.run(
        [sys.executable, "-c", "from netimmutable.cli import main; main()", "render", "--repo", str(target)],
        check=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
    )
    return target


@dataclass
class FrrRouter:
    """One lab router as a ``tests.contract.DeviceUnderTest``, with out-of-band access through nsenter."""

    name: str
    repo: Path
    connection: Mapping[str, Any]
    holder: int
    bgp_peers: int
    driver_name: str = "frr"
    password: str = ""
    revert_in: int = 3
    settle_timeout: float = 30.0
    neighbor_ip: str = ""
    peer: FrrRouter | None = field(default=None, repr=False)

    @property
    def hostname(self) -> str:
        return str(self.connection["hostname"])

    @property
    def username(self) -> str:
        return str(self.connection["username"])

    @property
    def optional_args(self) -> dict[str, Any]:
        return dict(self.connection["optional_args"])

    @property
    def snapshot(self) -> Path:
        return self.repo / "snapshots" / f"{self.name}.cfg"

    @property
    def baseline(self) -> str:
        return self.snapshot.read_text(encoding="utf-8")

    def sh(self, script: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a shell script inside the router (network, mount and UTS namespaces): out of band."""
        return subprocess.run(
            ["nsenter", "-t", str(self.holder), "-n", "-m", "-u", "--", "sh", "-c", script],
            check=check,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def open_driver(self) -> NetworkDriver:
        driver = napalm.get_network_driver(self.driver_name)(
            self.hostname, self.username, self.password, optional_args=self.optional_args
        )
        driver.open()
        return driver

    def running(self) -> str:
        return self.sh("vtysh -c 'show running-config no-header'").stdout

    def startup(self) -> str:
        return self.sh("cat /etc/frr/frr.conf").stdout

    def workdir_files(self) -> set[str]:
        out = self.sh(f"ls -A {WORKDIR} 2>/dev/null || true").stdout
        return set(out.split())

    def established(self) -> int:
        return bgp_established(self.holder)

    def reset(self) -> None:
        """Disarm any revert timer, drop the driver's files, reload the snapshot, wait for BGP."""
        self.sh(
            f'p=$(cat {WORKDIR}/pending.pid 2>/dev/null); [ -n "$p" ] && kill -TERM -- -$p 2>/dev/null; '
            f"rm -rf {WORKDIR}; "
            # interface blocks the snapshot lacks go whole: frr-reload.py deletes them line by line, and
            # some lines (multicast) cannot be deleted that way
            "vtysh -c 'show running-config no-header' | sed -n 's/^interface //p' | while read -r name; do "
            f'grep -qx "interface $name" {self.snapshot} || '
            "vtysh -c 'configure terminal' -c \"no interface $name\"; done; "
            f'if [ -n "$(/usr/lib/frr/frr-reload.py --test --log-level error {self.snapshot})" ]; then '
            f"/usr/lib/frr/frr-reload.py --reload --stdout --log-level error {self.snapshot} >/dev/null; fi; "
            "vtysh -c 'write memory' >/dev/null"
        )
        assert self.running() == self.baseline, f"{self.name}: reset did not restore the snapshot"
        deadline = time.monotonic() + self.settle_timeout
        while self.established() < self.bgp_peers:
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name}: BGP did not converge after reset")
            time.sleep(0.2)

    def oob_edit(self, add: Sequence[str]) -> None:
        args = " ".join(f"-c '{line}'" for line in add)
        self.sh(f"vtysh -c 'configure terminal' {args}")


@dataclass
class FrrLab:
    repo: Path
    status: LabStatus
    routers: dict[str, FrrRouter]

    def router(self, name: str) -> FrrRouter:
        return self.routers[name]


@pytest.fixture(scope="session")
def frr_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrrLab]:
    _require_lab()
    repo = _copy_example(tmp_path_factory.mktemp("frr-lab") / "network")
    status = lab_up(repo)
    state = None
    try:
        state = load_state(repo)
        assert state is not None
        hosts = yaml.safe_load((repo / ".netimmutable" / "connections.yaml").read_text())["hosts"]
        routers = {
            name: FrrRouter(
                name=name,
                repo=repo,
                connection=hosts[name],
                holder=int(info["holder"]),
                bgp_peers=int(info["bgp_peers"]),
            )
            for name, info in state.routers.items()
        }
        yield FrrLab(repo, status, routers)
    finally:
        started = list((load_state(repo) or state).processes) if state is not None else []
        lab_down(repo)
    # lab_down returns only when every process it started is gone: not running, not even a zombie
    left = [p for p in started if alive(p) or _is_zombie(p.pid)]
    assert not left, f"lab_down returned while processes it started were still there: {left}"
    netns = Path("/run/netns")
    leftover = [p.name for p in netns.iterdir() if p.name.startswith("ni-")] if netns.is_dir() else []
    assert not leftover, f"lab_down left namespaces behind: {leftover}"
    assert not (repo / ".netimmutable" / "lab").exists()


@pytest.fixture
def r1(frr_lab: FrrLab) -> Iterator[FrrRouter]:
    """r1 at its snapshot before and after the test, with r2 (10.255.12.2) as its BGP peer."""
    router = frr_lab.router("r1")
    router.neighbor_ip = "10.255.12.2"
    router.peer = frr_lab.router("r2")
    router.reset()
    yield router
    router.reset()


def timings_file() -> Path:
    return Path(os.environ.get("NETIMMUTABLE_TIMINGS", "/tmp/netimmutable-integration-timings.json"))


def record_timing(name: str, seconds: float) -> None:
    """Timings measured by the tests (lab up, commit, revert), printed with -s and kept in a JSON file."""
    path = timings_file()
    data = json.loads(path.read_text()) if path.is_file() else {}
    data[name] = round(seconds, 2)
    path.write_text(json.dumps(data, indent=2, sort_keys=True))
    print(f"timing {name}: {seconds:.2f} s")


# ------------------------------------------------------ a network repository on the lab, per test
NET_SETTINGS = """\
version: 1
approval_branch: main
deploy:
  canary: 1
  max_failures: 1
  on_failure: stop
  revert_in: 120
  settle_timeout: 15
  settle_interval: 0.5
"""


@dataclass
class FrrNet:
    root: Path
    lab: FrrLab
    first: str

    def commit(self, message: str) -> str:
        repo = open_repo(self.root)
        loaded = load_inventory(repo)
        rendered = render_hosts(repo, loaded.hosts())
        write_snapshots(repo, rendered, compare_snapshots(repo, rendered, [h.name for h in loaded.hosts()]))
        result = commit_release(repo, open_git(repo), rendered, message)
        assert result.release is not None
        return result.release.sha

    def edit_hosts(self, pattern: str, replacement: str, host: str) -> None:
        path = self.root / "inventory" / "hosts.yaml"
        text = path.read_text()
        start = text.index(f"\n{host}:")
        new = text[:start] + re.sub(pattern, replacement, text[start:], count=1)
        assert new != text
        path.write_text(new)

    def use_template(self, host: str, text: str) -> None:
        """Make ``text`` the whole template of ``host`` (``templates/styled/<host>.j2``)."""
        (self.root / "templates" / "styled").mkdir(exist_ok=True)
        (self.root / "templates" / "styled" / f"{host}.j2").write_text(text)
        path = self.root / "inventory" / "hosts.yaml"
        hosts = path.read_text()
        new = re.sub(
            rf"(\n{host}:\n(?:  .*\n)*?  data:\n)", rf"\1    template: styled/{host}.j2\n", hosts, count=1
        )
        assert new != hosts
        path.write_text(new)

    def deploy(self, **options: object) -> RunReport:
        return deploy(open_repo(self.root), DeployOptions(**options))  # type: ignore[arg-type]

    def records(self) -> Records:
        repo = open_repo(self.root)
        return Records(repo, open_git(repo))

    def router(self, name: str) -> FrrRouter:
        return self.lab.router(name)


def restyled(config: str) -> str:
    """``config`` as another person writes it: two spaces per level, no ``exit`` or ``!`` lines, the
    route-maps and prefix-lists first, ``router bgp`` before the interfaces."""
    blocks: list[list[str]] = []
    for line in config.splitlines():
        if line.strip() in ("exit", "!", "end") or line.startswith("frr version"):
            continue
        depth = len(line) - len(line.lstrip(" "))
        text = "  " * depth + line.strip()
        if depth == 0:
            blocks.append([text])
        else:
            blocks[-1].append(text)

    def rank(block: list[str]) -> int:
        head = block[0]
        if head.startswith(("route-map", "ip prefix-list")):
            return 0
        if head.startswith("router bgp"):
            return 1
        if head.startswith("interface"):
            return 2
        return 3

    head = [b for b in blocks if rank(b) == 3 and not b[0].startswith(("ip route",))]
    rest = sorted((b for b in blocks if b not in head), key=rank)
    return "\n".join(line for block in [*head, *rest] for line in block) + "\n"


@pytest.fixture
def frr_net(frr_lab: FrrLab, tmp_path: Path) -> Iterator[FrrNet]:
    root = init_repo(tmp_path / "network")
    for name in ("inventory", "templates"):
        shutil.rmtree(root / name, ignore_errors=True)
        shutil.copytree(frr_lab.repo / name, root / name)
    (root / "netimmutable.yaml").write_text(NET_SETTINGS)
    (root / ".netimmutable").mkdir(exist_ok=True)
    shutil.copy2(
        frr_lab.repo / ".netimmutable" / "connections.yaml", root / ".netimmutable" / "connections.yaml"
    )
    for router in frr_lab.routers.values():
        router.reset()
    net = FrrNet(root, frr_lab, "")
    net.first = net.commit("first release: what the lab runs")
    started = time.monotonic()
    baseline = net.deploy()
    record_timing("deploy_frr_verify_4_unchanged", time.monotonic() - started)
    assert baseline.exit_code == 0, [(h.host, h.outcome, h.message) for h in baseline.hosts]
    try:
        yield net
    finally:
        for router in frr_lab.routers.values():
            router.reset()
