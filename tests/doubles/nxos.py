"""A Cisco NX-OS device double for NAPALM's real ``nxos`` driver: NX-API (JSON-RPC over HTTP) plus SSH/SCP.

napalm/nxos/nxos.py (napalm 5.2.0) talks to two services, and so does this double:

* NX-API: ``napalm.nxapi_plumbing`` POSTs JSON-RPC 2.0 batches to ``http://<host>:<port>/ins`` with HTTP basic
  auth (401 on bad credentials); ``method`` ``cli`` answers ``result.body`` (structured JSON), ``cli_ascii``
  answers ``result.msg`` (text), a failing command answers ``error.data.msg`` (Cisco, "NX-API CLI" in the
  Nexus 9000 Programmability Guide; napalm/nxapi_plumbing/api_client.py ``RPCClient``). Structured bodies
  follow NX-OS's ``TABLE_x``/``ROW_x`` form, a single row as a dict (napalm's ``_get_table_rows``), with
  the keys napalm reads (test/nxos/mocked_data in napalm-automation/napalm).
* SSH + SCP, for ``load_replace_candidate`` only (netmiko ``file_transfer`` with ``CiscoNxosFileTransfer``:
  ``dir bootflash:<file>`` ending in ``Usage for bootflash://sup-local`` and ``N bytes free``,
  ``show file bootflash:<file> md5sum``, the SCP sink, which needs ``feature scp-server``).
  napalm's ``ensure_netmiko_conn`` forces the SSH port to 22 when ``port`` is set (the NX-API port); the
  double's SSH port reaches netmiko through its documented ``ssh_config_file`` argument (an SSH config
  with ``Port``, read by ``BaseConnection._use_ssh_config`` when the port is 22).

The change window (Cisco, Nexus 9000 NX-OS System Management Configuration Guide, "Configuring Rollback":
``checkpoint file <name>`` saves the running config as an ASCII file; ``rollback running-config file <name>``
is atomic by default, applied only if no error occurs; ``show diff rollback-patch file <a> file <b>``;
https://cisco.com/c/en/us/td/docs/switches/datacenter/nexus9000/sw/105x/config-guides/cisco-nexus-9000-series-nx-os-system-management-configuration-guide-release-105x/m-configuring-rollback-10x.html):
``commit_config`` checkpoints ``rollback_config.txt`` then rolls the running config to
``candidate_config.txt`` and saves it (``copy run startup-config``); ``rollback()`` rolls to
``rollback_config.txt``. NX-OS has no revert timer through napalm: ``has_pending()`` is always False.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.doubles import nxos_config as nx
from tests.doubles.base import new_password
from tests.doubles.ios_config import has_line, parse
from tests.doubles.nxos_api import NxosCli, NxosShell
from tests.doubles.ssh_cli import SshCliServer

__all__ = ["NxosDouble", "default_baseline", "start_nxos"]


def _stamp(when: float) -> str:
    dt = datetime.fromtimestamp(when, UTC)
    return f"{dt:%a %b} {dt.day:>2} {dt:%H:%M:%S %Y}"


def default_baseline(name: str = "r1", peers: Mapping[str, int] | None = None) -> str:
    """A small NX-OS 9.3 config as ``show running-config`` shows it (the neighbour's AS from ``peers``)."""
    peer, peer_as = next(iter((peers or {"10.0.12.2": 65002}).items()))
    return f"""!Command: show running-config
!Running configuration last done at: Wed Dec  2 18:00:00 2026
!Time: Wed Dec  2 18:00:00 2026

version 9.3(8) Bios:version
hostname {name}
feature nxapi
feature bgp
feature scp-server

username admin password 5 $5$LMNDFK$Yp2m0qd9cJ1xTq3Vh7sW4bK8fA2dC9eM1oL6iH3vS5.  role network-admin
ip domain-name lab.example

interface Ethernet1/1
  description to {peer}
  no switchport
  ip address 10.0.12.1/24
  no shutdown

interface Ethernet1/2
  no switchport
  ip address 10.0.13.1/24
  no shutdown
line console
line vty
router bgp 65001
  router-id 10.0.13.1
  address-family ipv4 unicast
  neighbor {peer}
    remote-as {peer_as}
    address-family ipv4 unicast
"""


class NxosDouble:
    """The device state; NX-API requests and SSH sessions call into it under ``lock``."""

    platform = "nxos"
    hostname = "127.0.0.1"
    username = "admin"

    def __init__(
        self, name: str = "r1", peers: Mapping[str, int] | None = None, baseline: str | None = None
    ) -> None:
        self.name = name
        self.peers: Mapping[str, int] = dict(peers or {"10.0.12.2": 65002})
        self.baseline = baseline or default_baseline(name, self.peers)
        self.password = new_password()
        self.lock = threading.RLock()
        self.booted = time.time()
        self.bootflash: dict[str, bytes] = {}
        self.log: list[str] = []
        """Every NX-API (``api: <method>: <cmd>``) and SSH (``ssh: <cmd>``) command, in order."""
        self._up_since: dict[str, float] = {}
        self._body: list[str] = []
        self._changed = self.booted
        self.set_body(nx.body_of(self.baseline))
        self.startup: list[str] = list(self._body)
        self.cli = NxosCli(self)
        self._ssh = SshCliServer(self.username, self.password, lambda _user: NxosShell(self), self._scp)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        self._dir = Path(tempfile.mkdtemp(prefix="nxos-double-"))
        ssh_config = self._dir / "ssh_config"
        ssh_config.write_text(f"Host {self.hostname}\n  Port {self._ssh.port}\n")
        self.optional_args: dict[str, object] = {
            "transport": "http",
            "port": self._http.server_address[1],
            "ssh_config_file": str(ssh_config),
        }

    # ------------------------------------------------------------------ DeviceDouble
    def running(self) -> str:
        with self.lock:
            return self.show_running()

    def set_running(self, config: str) -> None:
        with self.lock:
            self.set_body(nx.body_of(config))

    def has_pending(self) -> bool:
        return False  # napalm's nxos driver has no commit confirm (commit_config refuses revert_in)

    def fire_timer(self) -> None:
        """No revert timer exists on this platform: nothing to fire."""

    def stop(self) -> None:
        self._ssh.stop()
        self._http.shutdown()
        self._http.server_close()
        shutil.rmtree(self._dir, ignore_errors=True)

    # ------------------------------------------------------------------ state
    @property
    def tree(self) -> list[Any]:
        return parse(self._body)

    @property
    def body(self) -> list[str]:
        return list(self._body)

    def set_body(self, body: list[str]) -> None:
        self._body = list(body)
        self._changed = time.time()
        current = nx.bgp(self.tree)
        wanted = {
            n.address
            for n in (current.neighbors if current else [])
            if not n.shutdown and self.peers.get(n.address) == n.remote_as
        }
        now = time.time()
        self._up_since = {a: self._up_since.get(a, now) for a in wanted}

    def up_since(self) -> dict[str, float]:
        return dict(self._up_since)

    def show_running(self) -> str:
        head = (
            "!Command: show running-config\n"
            f"!Running configuration last done at: {_stamp(self._changed)}\n"
            f"!Time: {_stamp(time.time())}\n\n"
        )
        return head + "\n".join(self._body) + "\n"

    def show_startup(self) -> str:
        head = f"!Command: show startup-config\n!Time: {_stamp(time.time())}\n!Startup config saved at: "
        return head + f"{_stamp(self._changed)}\n\n" + "\n".join(self.startup) + "\n"

    def checkpoint_text(self) -> str:
        return (
            f"!Command: Checkpoint cmd vdc 1\n!Time: {_stamp(time.time())}\n\n" + "\n".join(self._body) + "\n"
        )

    # ------------------------------------------------------------------ bootflash
    @staticmethod
    def file_name(path: str) -> str:
        """``bootflash:x``, ``bootflash:/x``, ``bootflash:///x`` and a bare ``x`` all name bootflash ``x``."""
        return path.removeprefix("bootflash:").lstrip("/")

    def _scp(self, path: str, name: str, data: bytes) -> str | None:
        with self.lock:
            if not has_line(self.tree, "feature scp-server"):
                return "scp: permission denied (feature scp-server is not enabled)"
            self.bootflash[self.file_name(path) or name] = data
            self.log.append(f"scp: {path}")
            return None

    def dir(self, path: str) -> str:
        name = self.file_name(path)
        if name and name not in self.bootflash:
            return "No such file or directory"
        names = [name] if name else sorted(self.bootflash)
        when = datetime.fromtimestamp(self._changed, UTC)
        rows = [f"{len(self.bootflash[n]):>11}    {when:%b %d %H:%M:%S %Y}  {n}" for n in names]
        used = sum(len(v) for v in self.bootflash.values()) + 1_500_000_000
        total = 4_324_691_356
        rows += ["", "Usage for bootflash://sup-local", f" {used:>10} bytes used"]
        rows += [f" {total - used:>10} bytes free", f" {total:>10} bytes total"]
        return "\n".join(rows)

    def md5(self, path: str) -> str:
        name = self.file_name(path)
        if name not in self.bootflash:
            return f"/bootflash/{name}: No such file or directory"
        return hashlib.md5(self.bootflash[name], usedforsecurity=False).hexdigest()


def _handler(device: NxosDouble) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{device.username}:{device.password}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _reply(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json-rpc")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            if self.path != "/ins":
                self._reply(404, {"error": "not found"})
                return
            if not hmac.compare_digest(self.headers.get("Authorization", ""), expected):
                self._reply(401, {"error": "Unauthorized"})
                return
            request = json.loads(raw)
            batch = request if isinstance(request, list) else [request]
            answers = [device.cli.rpc(item) for item in batch]
            self._reply(200, answers if isinstance(request, list) else answers[0])

    return Handler


@contextmanager
def start_nxos(
    name: str = "r1", peers: Mapping[str, int] | None = None, baseline: str | None = None
) -> Iterator[NxosDouble]:
    """An NX-OS double: NX-API on an ephemeral HTTP port, SSH/SCP on another, stopped on exit."""
    double = NxosDouble(name, peers, baseline)
    try:
        yield double
    finally:
        double.stop()
