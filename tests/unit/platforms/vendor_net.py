"""The multi-vendor example (``netimmutable init DIR --example multivendor``) with one vendor host on its
device double, for the change-window scenarios that run NAPALM's real drivers (``test_vendor_window.py``).

``vendor_net(tmp_path, platform)`` builds the example repository, releases it, starts the double of the
example's host of that platform running that release (its BGP neighbour, the FRR hub, exists behind the link
with the AS the data says), writes ``.netimmutable/connections.yaml`` pointing at the double on 127.0.0.1
(the password only in ``$NETIMMUTABLE_PASSWORD_<HOST>``, never in a file), and deploys the first release once
so that the host has a last-good release. Settle, interval and soak are short: the doubles converge at once.

The CLI runs in process (``VendorNet.cli``) or as its own process (``VendorNet.spawn``, for kill -9); the
doubles run in the test process, so both reach them. Device state is read out of band through the double.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from click.testing import Result

from netimmutable.artifacts import open_git
from netimmutable.connections import password_variable
from netimmutable.records import Records
from netimmutable.repo import NetworkRepo, open_repo
from netimmutable.scaffold import init_repo
from tests.cli_process import spawn_cli
from tests.doubles.base import DeviceDouble
from tests.doubles.eos import start_eos
from tests.doubles.ios import start_ios
from tests.doubles.iosxr_netconf import start_iosxr_netconf
from tests.doubles.junos import start_junos
from tests.doubles.nxos import start_nxos
from tests.unit.netrepo_helpers import run_cli
from tests.unit.records_fixtures import release

__all__ = ["HOSTS", "PLATFORMS", "VendorNet", "device_body", "vendor_net"]

HOSTS: Mapping[str, str] = {"eos": "e1", "junos": "j1", "iosxr_netconf": "x1", "nxos": "n1", "ios": "c1"}
"""The example's host of each vendor platform (``netimmutable/example_multivendor/inventory/hosts.yaml``)."""
PLATFORMS = tuple(HOSTS)

_STARTERS: Mapping[str, Callable[..., AbstractContextManager[Any]]] = {
    "eos": start_eos,
    "junos": start_junos,
    "iosxr_netconf": start_iosxr_netconf,
    "nxos": start_nxos,
    "ios": start_ios,
}
_HEADERS: Mapping[str, re.Pattern[str]] = {
    "eos": re.compile(r"^! (Command:|device:|boot system)"),
    "junos": re.compile(r"^## (Last commit|Last changed)"),
    "iosxr_netconf": re.compile(r"^!! "),
    "nxos": re.compile(r"^!(Command:|Running configuration last done|Time:)"),
    "ios": re.compile(
        r"^(Building configuration\.\.\.|Current configuration :|! Last configuration change|"
        r"! NVRAM config last updated|! No configuration change since last restart)"
    ),
}
SETTINGS_EDITS = (
    ("settle_timeout: 60 ", "settle_timeout: 1\n  settle_interval: 0.1 #"),
    ("soak: auto ", "soak: 0 #"),
)
"""Short post-checks: the doubles converge at once (the soak is tested on sim, ``tests/unit/deploy``)."""


def device_body(platform: str, text: str) -> str:
    """A config as ``platform`` shows it, without what the device adds around it (its header lines, comment
    lines and blank lines before the first statement, a closing ``end``): a release's artifact and the
    device's running config compare equal this way when the device runs exactly that artifact."""
    header = _HEADERS[platform]
    lines = [line.rstrip() for line in text.splitlines() if not header.match(line)]
    while lines and lines[0] in ("", "!"):
        lines.pop(0)
    while lines and lines[-1] in ("", "!", "end"):
        lines.pop()
    return "\n".join(lines) + "\n"


@dataclass
class VendorNet:
    root: Path
    platform: str
    host: str
    device: Any
    """The double (``tests.doubles.base.DeviceDouble``) and its platform's own extras (``startup()``...)."""
    first: str
    """The first release: the double started on it, and the first deploy recorded it good."""

    @property
    def repo(self) -> NetworkRepo:
        return open_repo(self.root)

    @property
    def double(self) -> DeviceDouble:
        return self.device  # type: ignore[no-any-return]

    def cli(self, *args: str) -> Result:
        """``netimmutable ARGS --repo ROOT`` in process."""
        return run_cli([*args, "--repo", str(self.root)])

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        """``netimmutable ARGS --repo ROOT`` as its own process (the password reaches it by environment)."""
        return spawn_cli(*args, "--repo", str(self.root))

    def deploy(self, *extra: str) -> Result:
        return self.cli("deploy", "--yes", "--limit", self.host, *extra)

    def artifact(self, rev: str = "HEAD") -> str:
        return open_git(self.repo).git.show(f"{rev}:snapshots/{self.host}.cfg") + "\n"

    def intent(self, rev: str = "HEAD") -> str:
        """The release's config for the host, as the device shows it when it runs it."""
        return device_body(self.platform, self.artifact(rev))

    def on_device(self) -> str:
        """The running config, read out of band (never through the driver)."""
        return device_body(self.platform, self.double.running())

    def last_good(self) -> str | None:
        entry = Records(self.repo, open_git(self.repo)).last_good(self.host)
        return entry.release if entry is not None else None

    def hosts_line(self, old: str, new: str) -> dict[str, tuple[str, str]]:
        """An edit of this host's entry in inventory/hosts.yaml (``release`` form)."""
        text = (self.root / "inventory" / "hosts.yaml").read_text()
        entry = text[text.index(f"\n{self.host}:\n") :]
        line = next(ln for ln in entry.splitlines() if old in ln)
        return {"inventory/hosts.yaml": (line, line.replace(old, new))}

    def release_good_change(self) -> str:
        """A new description on the uplink to r1 (expectations follow: they do not check descriptions)."""
        return release(
            self.root, "uplink description", self.hosts_line("description: to r1", "description: to hub r1")
        )

    def release_bad_change(self) -> str:
        """A wrong remote AS for the hub: the session never comes up, the host's expectations fail."""
        return release(self.root, "wrong hub AS", self.hosts_line("remote_as: 65001", "remote_as: 65099"))

    def use_driver(self, driver: str) -> None:
        """Reach the double through NAPALM driver ``driver`` from now on (connections.yaml ``driver``)."""
        write_connections(self.root, self.host, self.double, driver)

    def drift(self) -> None:
        """A person changes the uplink's description on the console (out of band)."""
        changed = self.artifact().replace("to r1", "patched by hand", 1)
        assert changed != self.artifact()
        self.double.set_running(changed)


def _hub_address(root: Path, host: str) -> str:
    hosts = yaml.safe_load((root / "inventory" / "hosts.yaml").read_text())
    return str(hosts[host]["data"]["bgp_neighbors"][0]["address"])


def _settings(root: Path) -> None:
    path = root / "netimmutable.yaml"
    text = path.read_text()
    for old, new in SETTINGS_EDITS:
        assert old in text, f"{old!r} not in the example's settings"
        text = text.replace(old, new)
    path.write_text(text)


def write_connections(root: Path, host: str, double: DeviceDouble, driver: str | None = None) -> None:
    entry: dict[str, Any] = {
        "hostname": double.hostname,
        "username": double.username,
        "optional_args": dict(double.optional_args),
    }
    if driver:
        entry["driver"] = driver
    path = root / ".netimmutable" / "connections.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({"hosts": {host: entry}}))


@contextmanager
def vendor_net(tmp_path: Path, platform: str, **double_args: Any) -> Iterator[VendorNet]:
    """The example released, ``platform``'s host on its double running the release and recorded good."""
    root = init_repo(tmp_path / "network", example="multivendor")
    _settings(root)
    first = release(root, "first release")
    host = HOSTS[platform]
    baseline = (root / "snapshots" / f"{host}.cfg").read_text()
    peers = {_hub_address(root, host): 65001}
    variable = password_variable(host)
    with _STARTERS[platform](host, peers=peers, baseline=baseline, **double_args) as device:
        write_connections(root, host, device)
        old = os.environ.get(variable)
        os.environ[variable] = device.password
        try:
            net = VendorNet(root, platform, host, device, first)
            assert net.on_device() == net.intent(), "the double does not show the release as rendered"
            result = net.deploy()
            assert result.exit_code == 0, result.output
            assert net.last_good() == first, result.output
            yield net
        finally:
            if old is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = old
