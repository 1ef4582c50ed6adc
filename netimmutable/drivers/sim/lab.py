"""``SimLab``: create, inspect, disturb and remove simulated devices in a lab folder.

Everything here acts on the device *out of band* (as a person on the console would), not through a NAPALM
session, so it works while sessions are open in other processes. ``lab up --sim`` and the tests use it.

Examples:
    >>> import tempfile
    >>> lab = SimLab(Path(tempfile.mkdtemp()) / "sim")
    >>> lab.create("r1", "hostname r1\\ninterface eth0\\n ip address 10.0.0.1/30\\nexit\\n")
    >>> lab.hosts()
    ['r1']
    >>> lab.edit("r1", add=["ip route 10.9.0.0/24 blackhole"])
    >>> lab.running("r1").splitlines()[-1]
    'ip route 10.9.0.0/24 blackhole'
    >>> lab.connection_entry("r1")["driver"]
    'sim'
    >>> lab.connection_entry("r1", server="127.0.0.1:7001")["optional_args"]
    {'server': '127.0.0.1:7001'}
    >>> lab.destroy()
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from netimmutable.drivers.sim.knobs import Knobs
from netimmutable.drivers.sim.parse import canonical, check_syntax, merge
from netimmutable.drivers.sim.state import DeviceState, LabStore

__all__ = ["SimLab"]


class SimLab:
    """A folder of simulated devices (``root``), shared by every process that opens it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        self._store = LabStore(self.root)

    def create(self, host: str, config: str) -> None:
        """Add device ``host`` running ``config`` (FRR syntax; it must pass the device's syntax check)."""
        check_syntax(config)
        self._store.init()
        self._store.device(host).create(config)

    def destroy(self) -> None:
        """Remove the lab folder and its devices (idempotent; refuses a folder that is not a sim lab)."""
        if not self.root.exists():
            return
        if not self._store.exists:
            raise ValueError(f"{self.root} is not a sim lab folder (no marker file); not removing it")
        shutil.rmtree(self.root)

    def hosts(self) -> list[str]:
        return self._store.hosts()

    def state(self, host: str) -> DeviceState:
        """The device's full state (applies a revert whose deadline has passed, as any access does)."""
        return self._store.device(host).load()

    def running(self, host: str) -> str:
        return self.state(host).running

    def startup(self, host: str) -> str:
        return self.state(host).startup

    def has_pending(self, host: str) -> bool:
        return self.state(host).pending is not None

    def knobs(self, host: str) -> Knobs:
        return self._store.device(host).knobs()

    def set_knobs(self, host: str, **knobs: Any) -> Knobs:
        """Change some knobs of ``host`` (see ``Knobs`` for names); others keep their value."""
        store = self._store.device(host)
        if not store.exists:
            raise KeyError(f"no sim device {host!r} in {self.root}")
        return store.update_knobs(**knobs)

    def clear_knobs(self, host: str) -> None:
        self._store.device(host).set_knobs(Knobs())

    def edit(self, host: str, *, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        """Change the running config out of band (drift): merge ``add`` lines/blocks, delete ``remove`` lines.

        ``remove`` entries match whole lines after stripping whitespace (any indentation, every occurrence).
        Startup config is left alone, like an unsaved console change.
        """
        addition = "\n".join(add)
        if addition:
            check_syntax(addition)
        gone = {line.strip() for line in remove}

        def apply(state: DeviceState) -> DeviceState:
            text = merge(state.running, addition) if addition else state.running
            if gone:
                text = canonical("\n".join(ln for ln in text.splitlines() if ln.strip() not in gone))
            return replace(state, running=text)

        self._store.device(host).change(apply, "edit", "", "out-of-band edit")

    def set_running(self, host: str, config: str) -> None:
        """Replace the running config out of band, clearing any pending revert (test baseline reset)."""
        text = canonical(config)

        def apply(state: DeviceState) -> DeviceState:
            return replace(state, running=text, startup=text, previous=text, pending=None)

        self._store.device(host).change(apply, "edit", "", "out-of-band reset")

    def rebuild_index(self) -> int:
        """Rebuild the lab's address index from the running configs (repair after a crash mid-commit)."""
        return self._store.rebuild_index()

    def connection_entry(self, host: str, server: str | None = None) -> dict[str, Any]:
        """The ``connections.yaml`` entry that reaches ``host`` (see docs/CONTRACTS.md): in this lab folder,
        or through the sim server at ``server`` (``HOST:PORT``, serving this folder) when given."""
        where = {"server": server} if server else {"lab_dir": str(self.root)}
        return {"hostname": host, "driver": "sim", "optional_args": where}
