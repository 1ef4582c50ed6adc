"""An Arista EOS device double speaking eAPI on 127.0.0.1, for NAPALM's real ``eos`` driver (through pyeapi).

The boundary is eAPI itself: JSON-RPC 2.0 ``runCmds`` POSTed to ``/command-api`` with HTTP basic auth, as
pyeapi's ``EapiConnection.send`` builds it (``{"jsonrpc": "2.0", "method": "runCmds", "params": {"version": 1,
"cmds": [...], "format": "json"|"text"}, "id": ...}``) and reads it back (``result``: one object per command;
``error``: ``code``, ``message``, ``data``). pyeapi's ``http`` transport is chosen through NAPALM's documented
optional args, ``{"transport": "http", "port": PORT}``; nothing of napalm or pyeapi is patched. A wrong
password gets HTTP 401, which pyeapi raises as its own ``ConnectionError``.

Each request is one CLI session in exec mode (pyeapi puts ``enable`` first), whose commands run in order
(``tests.doubles.eos_device.Request``); the device state they act on (running and startup configs, flash
files, config sessions, the commit timer) outlives the request and the connection
(``tests.doubles.eos_device.EosState``, where the EOS behaviour followed is cited). ``show`` outputs:
``tests.doubles.eos_show``; the config language and its rendering: ``tests.doubles.eos_config``.

Use ``with start_eos("r1", peers={"10.0.12.2": 65002}) as dev:`` and build the driver from ``dev.platform``,
``dev.hostname``, ``dev.username``, ``dev.password`` and ``dev.optional_args``.
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from tests.doubles.base import DeviceDouble, new_password
from tests.doubles.eos_config import InvalidInput, parse_config
from tests.doubles.eos_device import CommandFailed, EosState, Request
from tests.doubles.eos_show import Unconverted

__all__ = ["EOS_VERSION", "EosDouble", "default_baseline", "start_eos"]

EOS_VERSION = "4.31.2F"
"""Before 4.32: ``show configuration sessions detail`` marks the waiting session ``pendingCommitTimer``."""


def default_baseline(
    name: str, peer_ip: str = "10.0.12.2", peer_as: int = 65002, local_as: int = 65001
) -> str:
    """A small vEOS config: hostname, two routed interfaces, a loopback, BGP with one neighbour; the admin
    user's secret is a random placeholder in EOS's ``sha512`` form (no clear-text secret)."""
    salt = new_password()[:16].replace("-", ".").replace("_", "/")
    return (
        "no aaa root\n!\n"
        f"username admin privilege 15 role network-admin secret sha512 $6${salt}${new_password()}\n!\n"
        "service routing protocols model multi-agent\n!\n"
        f"hostname {name}\n!\n"
        "spanning-tree mode mstp\n!\n"
        "management api http-commands\n   no shutdown\n!\n"
        "interface Ethernet1\n   description to peer\n   no switchport\n   ip address 10.0.12.1/30\n!\n"
        "interface Ethernet2\n   description to lan\n   no switchport\n   ip address 10.0.13.1/24\n!\n"
        "interface Loopback0\n   ip address 10.255.0.1/32\n!\n"
        "ip routing\n!\n"
        f"router bgp {local_as}\n   router-id 10.255.0.1\n   neighbor {peer_ip} remote-as {peer_as}\n!\nend\n"
    )


class EosDouble:
    """One EOS device on 127.0.0.1 (``tests.doubles.base.DeviceDouble``)."""

    platform = "eos"

    def __init__(
        self, name: str, peers: Mapping[str, int], baseline: str, eos_version: str = EOS_VERSION
    ) -> None:
        self.name = name
        self.hostname = "127.0.0.1"
        self.username = "admin"
        self.password = new_password()
        table = dict(peers)
        self.peers: Mapping[str, int] = table
        self.state = EosState(parse_config(baseline), table, eos_version)
        self.state.save(self.username)  # the device booted from this config: startup == running
        self.baseline = self.state.shows.running_config()
        self.requests: list[list[str]] = []
        """Every request's commands, in order (for tests that look at what the driver sent)."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"eos-{name}", daemon=True
        )
        self._thread.start()
        self._stopped = False
        self.port = int(self._server.server_address[1])
        self.optional_args: Mapping[str, Any] = {"transport": "http", "port": self.port}
        """pyeapi's plain-HTTP transport and the double's port (NAPALM passes both to pyeapi)."""

    # ------------------------------------------------------------------------------ out of band
    def running(self) -> str:
        with self.state.lock:
            return self.state.shows.running_config()

    def startup(self) -> str | None:
        """The startup-config file (without the lines ``show startup-config`` puts before it)."""
        with self.state.lock:
            return self.state.startup

    def set_running(self, config: str) -> None:
        """Replace the running config as a console user would (``configure replace`` of a local file, no
        ``write memory``: the startup-config keeps what was saved)."""
        self.state.set_running(parse_config(config))

    def has_pending(self) -> bool:
        with self.state.lock:
            return self.state.pending_timer() is not None

    def session_states(self) -> dict[str, str]:
        """Config sessions on the device: name -> state (``pending``, ``pendingCommitTimer``...)."""
        with self.state.lock:
            return {s.name: s.state for s in self.state.sessions.values()}

    def fire_timer(self) -> None:
        self.state.fire_timer()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.state.stop()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------------------ eAPI
    def authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.username and hmac.compare_digest(password, self.password)

    def run_cmds(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """One JSON-RPC request -> its response object (``result`` or ``error``)."""
        rid = request.get("id")
        params = request.get("params") or {}
        if request.get("method") != "runCmds" or not isinstance(params.get("cmds"), list):
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "Method not found"}}
        fmt = params.get("format", "json")
        if fmt not in ("json", "text"):
            return {
                "jsonrpc": "2.0",
                "id": rid,
                "error": {"code": -32602, "message": f"Invalid format {fmt}"},
            }
        cmds = [c["cmd"] if isinstance(c, dict) else str(c) for c in params["cmds"]]
        results: list[dict[str, Any]] = []
        with self.state.lock:
            self.requests.append(cmds)
            cli = Request(self.state, self.username, fmt)
            for index, cmd in enumerate(cmds, start=1):
                try:
                    results.append(cli.run(cmd))
                except InvalidInput as exc:
                    return _error(rid, 1002, index, cmds, "invalid command", str(exc), results)
                except Unconverted:
                    return _error(
                        rid,
                        1003,
                        index,
                        cmds,
                        "unconverted command",
                        "This is an unconverted command",
                        results,
                    )
                except CommandFailed as exc:
                    return _error(rid, exc.code, index, cmds, "could not run command", exc.text, results)
        return {"jsonrpc": "2.0", "id": rid, "result": results}


def _error(
    rid: Any, code: int, index: int, cmds: list[str], what: str, text: str, done: list[dict[str, Any]]
) -> dict[str, Any]:
    message = f"CLI command {index} of {len(cmds)} '{cmds[index - 1]}' failed: {what}"
    data = [*done, {"errors": [text]}]
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message, "data": data}}


def _handler(device: EosDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read the device's state, not its access log."""

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path != "/command-api":
                self._send(404, b"Not Found", "text/plain")
                return
            if not device.authorized(self.headers.get("Authorization")):
                self._send(
                    401, b'{"error": "Unable to authenticate user: Bad username/password combination"}'
                )
                return
            try:
                request = json.loads(raw)
            except ValueError:
                self._send(400, b'{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}}')
                return
            self._send(200, json.dumps(device.run_cmds(request)).encode())

    return Handler


@contextmanager
def start_eos(
    name: str = "r1",
    peers: Mapping[str, int] | None = None,
    baseline: str | None = None,
    eos_version: str = EOS_VERSION,
) -> Iterator[EosDouble]:
    """An EOS double on an ephemeral port of 127.0.0.1, stopped on exit. Default ``peers``: the default
    baseline's neighbour 10.0.12.2 in AS 65002 (so it is Established)."""
    peers = {"10.0.12.2": 65002} if peers is None else peers
    device = EosDouble(name, peers, baseline or default_baseline(name), eos_version)
    try:
        yield device
    finally:
        device.stop()


if TYPE_CHECKING:

    def _is_a_device_double(device: EosDouble) -> DeviceDouble:
        return device  # mypy checks that EosDouble implements the protocol
