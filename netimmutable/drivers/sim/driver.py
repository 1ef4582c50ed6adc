"""``SimDriver``: a NAPALM driver for a simulated router whose state lives in a lab folder.

Use it like any NAPALM driver::

    driver = napalm.get_network_driver("sim")
    with driver("r1", "", "", optional_args={"lab_dir": "/path/to/lab"}) as dev:
        dev.load_replace_candidate(config=text)
        print(dev.compare_config())
        dev.commit_config(revert_in=60)
        dev.confirm_commit()

``hostname`` names the device folder inside ``lab_dir``. Config syntax is FRR's. The candidate belongs to the
session (this object); the device (running/startup config, pending revert, knobs) lives in files, so every
process sees the same device. Semantics follow the ``frr`` driver:

- ``commit_config`` with no candidate does nothing; with a revert pending (from any session) it raises
  ``CommitError``. ``revert_in`` (seconds) stores a deadline on the device; past it, the next access by any
  process puts the pre-commit config back, so the revert fires even when the committing process died.
- ``confirm_commit`` works from any session (after a reconnect too) and saves running as startup.
- ``rollback`` cancels a pending commit (back to its pre-commit config) or else restores the config from
  before the last commit; either way startup follows. Commit without ``revert_in`` saves startup at once.

With ``optional_args={"server": "127.0.0.1:7001"}`` the device answers from a sim device server
(``python -m netimmutable.lab.sim_server``) instead of this process: the same devices (the server works on
its lab folder with this same code), their latency and faults, but their CPU in the server's process. Each
session is one TCP connection (``remote``); ``lab_dir`` is then the server's business and not used here.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar, cast

from napalm.base import NetworkDriver, models
from napalm.base.exceptions import (
    CommitConfirmException,
    CommitError,
    ConnectionClosedException,
    ConnectionException,
    MergeConfigException,
    ReplaceConfigException,
)

from netimmutable import __version__
from netimmutable.drivers.sim.bgp import bgp_neighbors, bgp_neighbors_detail
from netimmutable.drivers.sim.knobs import Knobs, exception_class
from netimmutable.drivers.sim.parse import (
    ConfigSyntaxError,
    canonical,
    check_syntax,
    merge,
    model_of,
    sanitize,
)
from netimmutable.drivers.sim.remote import RemoteSession
from netimmutable.drivers.sim.state import (
    DeviceState,
    DeviceStore,
    LabStore,
    NoSuchDevice,
    Pending,
)

__all__ = ["SimDriver", "respond"]

_Method = TypeVar("_Method", bound=Callable[..., Any])


def respond(driver: SimDriver, seconds: float, started: float) -> None:
    """Answer ``seconds`` after the request came in at ``started`` (``time.monotonic``): the device's response
    time holds its own work, as a real device's does. Benchmarks wrap this to count device time."""
    left = started + seconds - time.monotonic()
    if left > 0:
        time.sleep(left)


def _device_call(method: _Method) -> _Method:
    """A call to the device: it answers no sooner than its latency knobs say (see ``respond``). With
    ``optional_args.server`` the device is on a sim server: the call is sent there (``remote``)."""
    name = method.__name__

    @functools.wraps(method)
    def call(self: SimDriver, *args: Any, **kwargs: Any) -> Any:
        if self._remote is not None:
            return self._remote.call(name, args, kwargs)
        started, self._latency = time.monotonic(), 0.0
        try:
            return method(self, *args, **kwargs)
        finally:
            if self._latency:
                self._answer(self._latency, started)

    call.sim_device_call = True  # type: ignore[attr-defined]  # what a sim server may be asked to run
    return cast(_Method, call)


class SimDriver(NetworkDriver):  # type: ignore[misc]
    """NAPALM driver for a ``sim`` device (see the module docstring)."""

    platform = "sim"

    def __init__(
        self,
        hostname: str,
        username: str = "",
        password: str = "",
        timeout: int = 60,
        optional_args: dict[str, Any] | None = None,
    ) -> None:
        self.hostname = hostname
        self.username = username
        self.password = password
        self.timeout = timeout
        self.optional_args = dict(optional_args or {})
        self.force_no_enable = False
        self.use_canonical_interface = False
        lab_dir = self.optional_args.get("lab_dir")
        self._lab = LabStore(Path(lab_dir)) if lab_dir else None
        server = self.optional_args.get("server")
        self._remote = RemoteSession(hostname, str(server), timeout) if server else None
        self._session = ""
        self._is_open = False
        self._dropped = False
        self._replace: str | None = None
        self._merge: str | None = None
        self._latency = 0.0  # the response time of the call in progress (``_device_call``)

    # ------------------------------------------------------------------------------------ session
    def _answer(self, seconds: float, started: float) -> None:
        """Hold the answer of the call that started at ``started`` until ``seconds`` after it (a sim
        server answers without blocking instead: ``netimmutable.lab.sim_server``)."""
        respond(self, seconds, started)

    def _store(self) -> DeviceStore:
        if self._lab is None:
            raise ConnectionException(f"{self.hostname}: the sim driver needs optional_args['lab_dir']")
        try:
            return self._lab.device(self.hostname)
        except ValueError as exc:
            raise ConnectionException(str(exc)) from exc

    def _call(self, step: str | None) -> tuple[DeviceStore, Knobs]:
        """Session checks, latency and injected faults shared by every call."""
        if not self._is_open:
            raise ConnectionClosedException(f"{self.hostname}: not connected (call open() first)")
        if self._dropped:
            raise ConnectionClosedException(f"{self.hostname}: connection closed by remote host")
        store = self._store()
        if not store.exists:
            raise ConnectionClosedException(f"{self.hostname}: device is gone from {store.lab.root}")
        knobs = store.knobs()
        self._latency = knobs.latency
        if knobs.unreachable:
            self._dropped = True
            raise ConnectionClosedException(f"{self.hostname}: connection lost (device unreachable)")
        if step is not None and knobs.fails_at(step):
            self._raise_injected(store, step)
        return store, knobs

    def _raise_injected(self, store: DeviceStore, step: str) -> None:
        armed = store.spend_failure(step)
        if armed is not None:
            message = armed.fail_message or f"{self.hostname}: injected failure at {step}"
            raise exception_class(armed.fail_exception)(message)

    def _state(self, store: DeviceStore) -> DeviceState:
        try:
            return store.load()
        except NoSuchDevice as exc:
            raise ConnectionClosedException(f"{self.hostname}: device is gone") from exc

    @_device_call
    def open(self) -> None:
        store = self._store()
        if not store.exists:
            raise ConnectionException(f"{self.hostname}: no such sim device in {store.lab.root}")
        knobs = store.knobs()
        self._latency = knobs.latency
        if knobs.unreachable:
            raise ConnectionException(f"{self.hostname}: connection timed out (device unreachable)")
        if knobs.fails_at("open"):
            self._raise_injected(store, "open")
        self._session = uuid.uuid4().hex[:12]
        self._is_open = True
        self._dropped = False

    def close(self) -> None:
        if self._remote is not None:
            self._remote.close()
        self._is_open = False
        self._replace = self._merge = None

    def is_alive(self) -> models.AliveDict:
        if self._remote is not None:
            return {"is_alive": self._remote.alive}
        return {"is_alive": self._is_open and not self._dropped}

    # ------------------------------------------------------------------------------------ candidate
    def _load(self, kind: str, filename: str | None, config: str | None) -> None:
        _, knobs = self._call("load")
        error = ReplaceConfigException if kind == "replace" else MergeConfigException
        self._replace = self._merge = None  # a refused load leaves no candidate behind
        if config is None:
            if filename is None:
                raise error(f"{self.hostname}: no configuration given (filename or config)")
            config = Path(filename).read_text(encoding="utf-8")
        try:
            check_syntax(config)
        except ConfigSyntaxError as exc:
            raise error(f"{self.hostname}: configuration refused: {exc}") from exc
        if knobs.reject_pattern:
            pattern = re.compile(knobs.reject_pattern)
            for number, line in enumerate(config.splitlines(), start=1):
                if pattern.search(line):
                    raise error(
                        f"{self.hostname}: configuration refused: line {number}: "
                        f"% Rejected by device policy: {line.strip()}"
                    )
        if kind == "replace":
            self._replace = canonical(config)
        else:
            self._merge = config

    @_device_call
    def load_replace_candidate(self, filename: str | None = None, config: str | None = None) -> None:
        self._load("replace", filename, config)

    @_device_call
    def load_merge_candidate(self, filename: str | None = None, config: str | None = None) -> None:
        self._load("merge", filename, config)

    def _candidate_for(self, running: str) -> str | None:
        if self._replace is not None:
            return self._replace
        if self._merge is not None:
            return merge(running, self._merge)
        return None

    @_device_call
    def compare_config(self) -> str:
        store, _ = self._call("compare")
        running = self._state(store).running
        candidate = self._candidate_for(running)
        if candidate is None:
            return ""
        diff = difflib.unified_diff(
            running.splitlines(), candidate.splitlines(), "running", "candidate", lineterm=""
        )
        return "\n".join(diff)

    @_device_call
    def discard_config(self) -> None:
        self._call(None)
        self._replace = self._merge = None

    # ------------------------------------------------------------------------------------ commit
    @_device_call
    def commit_config(self, message: str = "", revert_in: int | None = None) -> None:
        store, knobs = self._call("commit")
        if revert_in is not None and (
            isinstance(revert_in, bool) or not isinstance(revert_in, int) or revert_in < 1
        ):
            raise CommitConfirmException(f"{self.hostname}: revert_in must be a whole number of seconds >= 1")
        if self._replace is None and self._merge is None:
            return
        self._latency += knobs.commit_latency

        def apply(state: DeviceState) -> DeviceState:
            if state.pending is not None:
                left = max(0, int(state.pending.deadline - time.time()))
                raise CommitError(
                    f"{self.hostname}: a commit is pending confirmation (reverts in {left}s); "
                    "confirm_commit() or rollback() first"
                )
            candidate = self._candidate_for(state.running)
            if candidate is None:  # cannot happen: checked before taking the lock, same session
                raise CommitError(f"{self.hostname}: no candidate loaded")
            if revert_in is None:
                return replace(state, running=candidate, previous=state.running, startup=candidate)
            pending = Pending(time.time() + revert_in, state.running, self._session)
            return replace(state, running=candidate, previous=state.running, pending=pending)

        store.change(apply, "commit", self._session, message)
        self._replace = self._merge = None
        if knobs.drop_after_commit:
            self._dropped = True

    @_device_call
    def confirm_commit(self) -> None:
        store, _ = self._call("confirm")

        def apply(state: DeviceState) -> DeviceState:
            if state.pending is None:
                raise CommitError(f"{self.hostname}: no pending commit-confirm found")
            return replace(state, pending=None, startup=state.running)

        store.change(apply, "confirm", self._session)

    @_device_call
    def has_pending_commit(self) -> bool:
        store, _ = self._call(None)
        return self._state(store).pending is not None

    @_device_call
    def rollback(self) -> None:
        store, _ = self._call("rollback")

        def apply(state: DeviceState) -> DeviceState:
            target = state.pending.restore if state.pending is not None else state.previous
            return replace(state, running=target, startup=target, pending=None)

        store.change(apply, "rollback", self._session)
        self._replace = self._merge = None

    # ------------------------------------------------------------------------------------ getters
    @_device_call
    def get_config(
        self, retrieve: str = "all", full: bool = False, sanitized: bool = False, format: str = "text"
    ) -> models.ConfigurationDict:
        store, _ = self._call("get_config")
        if format != "text":
            raise NotImplementedError(f"sim: config format {format!r} (only 'text')")
        state = self._state(store)
        out: models.ConfigurationDict = {"running": "", "startup": "", "candidate": ""}
        if retrieve in ("all", "running"):
            out["running"] = state.running
        if retrieve in ("all", "startup"):
            out["startup"] = state.startup
        if retrieve in ("all", "candidate"):
            out["candidate"] = self._candidate_for(state.running) or ""
        if sanitized:
            out = {
                "running": sanitize(out["running"]),
                "startup": sanitize(out["startup"]),
                "candidate": sanitize(out["candidate"]),
            }
        return out

    def _getter_state(self) -> tuple[DeviceStore, DeviceState]:
        store, _ = self._call("getters")
        return store, self._state(store)

    @_device_call
    def get_facts(self) -> models.FactsDict:
        _, state = self._getter_state()
        model = model_of(state.running)
        name = model.hostname or self.hostname
        return {
            "hostname": name,
            "fqdn": name,
            "vendor": "netimmutable",
            "model": "sim",
            "serial_number": "SIM" + hashlib.sha256(self.hostname.encode()).hexdigest()[:10].upper(),
            "os_version": f"netimmutable-sim {__version__} (FRR syntax)",
            "uptime": max(0.0, time.time() - state.created),
            "interface_list": [i.name for i in model.interfaces],
        }

    @_device_call
    def get_interfaces(self) -> dict[str, models.InterfaceDict]:
        _, state = self._getter_state()
        out: dict[str, models.InterfaceDict] = {}
        for iface in model_of(state.running).interfaces:
            digest = hashlib.sha256(f"{self.hostname}/{iface.name}".encode()).digest()
            out[iface.name] = {
                "is_up": iface.enabled,
                "is_enabled": iface.enabled,
                "description": iface.description,
                "last_flapped": -1.0,
                "mtu": iface.mtu,
                "speed": 0.0 if iface.name.startswith("lo") else 1000.0,
                "mac_address": ":".join(f"{b:02X}" for b in (0x02, *digest[:5])),
            }
        return out

    @_device_call
    def get_interfaces_ip(self) -> dict[str, models.InterfacesIPDict]:
        _, state = self._getter_state()
        out: dict[str, models.InterfacesIPDict] = {}
        for iface in model_of(state.running).interfaces:
            entry: models.InterfacesIPDict = {}
            if iface.ipv4:
                entry["ipv4"] = {ip: {"prefix_length": plen} for ip, plen in iface.ipv4}
            if iface.ipv6:
                entry["ipv6"] = {ip: {"prefix_length": plen} for ip, plen in iface.ipv6}
            if entry:
                out[iface.name] = entry
        return out

    @_device_call
    def get_bgp_neighbors(self) -> dict[str, models.BGPStateNeighborsPerVRFDict]:
        store, state = self._getter_state()
        return bgp_neighbors(store.lab, self.hostname, state)

    @_device_call
    def get_bgp_neighbors_detail(
        self, neighbor_address: str = ""
    ) -> dict[str, dict[int, list[models.PeerDetailsDict]]]:
        store, state = self._getter_state()
        return bgp_neighbors_detail(store.lab, self.hostname, state, neighbor_address)
