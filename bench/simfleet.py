"""A committed synthetic network whose hosts are ``sim`` devices, and a counter of device time.

The counter wraps the sim driver's ``time.sleep`` (the only thing it sleeps for is injected latency), so
the model is built from the calls the pipeline really made, not from a guess of them.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from bench.synth import SynthSpec, host_names, write_network

__all__ = ["SMALL_SPEC", "DeviceClock", "make_fleet"]

SMALL_SPEC = {"interfaces": 4, "static_routes": 4, "announce": 2, "prefix_lists": 1, "prefix_list_entries": 4}


@dataclass
class DeviceClock:
    """Counts the latency sleeps of the sim driver: how many, how long, and per host."""

    calls: int = 0
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _original: Any = None

    def install(self) -> None:
        from netimmutable.drivers.sim import driver

        self._original = driver.time
        real_sleep = time.sleep

        def sleep(seconds: float) -> None:
            with self._lock:
                self.calls += 1
                self.seconds += seconds
            real_sleep(seconds)

        driver.time = SimpleNamespace(**{n: getattr(time, n) for n in dir(time) if not n.startswith("_")})
        driver.time.sleep = sleep

    def uninstall(self) -> None:
        from netimmutable.drivers.sim import driver

        if self._original is not None:
            driver.time = self._original

    def model(self, hosts: int, workers: int) -> float:
        """Ideal wall time: hosts in waves of ``workers``, each host spending the average device time."""
        return math.ceil(hosts / max(1, workers)) * (self.seconds / max(1, hosts))


def _git(root: Path, *args: str) -> None:
    import subprocess

    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def make_fleet(root: Path, hosts: int, latency: float, commit_latency: float = 0.0) -> list[str]:
    """Write, render and commit ``hosts`` small leaves, each a sim device running its own snapshot."""
    from bench.common import quiet
    from netimmutable.cli import main
    from netimmutable.drivers.sim import SimLab

    write_network(root, SynthSpec(hosts=hosts, **SMALL_SPEC))
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.name", "Bench")
    _git(root, "config", "user.email", "bench@example.invalid")
    with quiet():
        main(["commit", "-m", "release 1", "--repo", str(root)], standalone_mode=False)
    lab = SimLab(root / ".netimmutable" / "lab" / "sim")
    names = host_names(hosts)
    connections: dict[str, Any] = {}
    for name in names:
        lab.create(name, (root / "snapshots" / f"{name}.cfg").read_text())
        lab.set_knobs(name, latency=latency, commit_latency=commit_latency)
        connections[name] = lab.connection_entry(name)
    (root / ".netimmutable" / "connections.yaml").write_text(yaml.safe_dump({"hosts": connections}))
    return names
