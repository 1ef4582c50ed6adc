"""A committed synthetic network whose hosts are ``sim`` devices, and a counter of device time.

The counter wraps the sim driver's ``respond`` (every call answers through it, ``latency`` seconds after the
request: the sim's own work happens within that response time, as a real device's does), so the model is
built from the calls the pipeline really made, not from a guess of them. It attributes each call's device
time to its device, and it can also measure the CPU the sim driver itself spends (``SimCpu``: thread CPU
time inside ``SimDriver`` methods), which runs in process, under the same GIL as netimmutable.
"""

from __future__ import annotations

import inspect
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.synth import SynthSpec, host_names, write_network

__all__ = ["SMALL_SPEC", "DeviceClock", "SimCpu", "make_fleet", "set_knobs"]

SMALL_SPEC = {"interfaces": 4, "static_routes": 4, "announce": 2, "prefix_lists": 1, "prefix_list_entries": 4}


@dataclass
class DeviceClock:
    """Counts the latency sleeps of the sim driver: how many, how long, and per host."""

    calls: int = 0
    seconds: float = 0.0
    per_host: dict[str, list[float]] = field(default_factory=dict)
    """host -> [latency sleeps, commit-latency sleeps (longer than ``commit_over``), device seconds]."""
    commit_over: float = float("inf")
    first_at: float = 0.0
    """``time.monotonic()`` when the first device call began / the last one answered (0: none yet)."""
    last_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _original: Any = None

    def install(self) -> None:
        from netimmutable.drivers.sim import driver

        self._original = driver.respond  # every latency of the sim passes through it

        def respond(sim: Any, seconds: float, started: float) -> None:
            host = str(getattr(sim, "hostname", "?"))
            with self._lock:
                self.calls += 1
                self.seconds += seconds
                entry = self.per_host.setdefault(host, [0, 0, 0.0])
                entry[1 if seconds > self.commit_over else 0] += 1
                entry[2] += seconds
                if not self.first_at:
                    self.first_at = started
            self._original(sim, seconds, started)
            with self._lock:
                self.last_at = max(self.last_at, time.monotonic())

        driver.respond = respond  # type: ignore[assignment]

    def uninstall(self) -> None:
        from netimmutable.drivers.sim import driver

        if self._original is not None:
            driver.respond = self._original

    def reset(self) -> None:
        with self._lock:
            self.calls, self.seconds = 0, 0.0
            self.per_host = {}
            self.first_at = self.last_at = 0.0

    def model(self, hosts: int, workers: int) -> float:
        """Ideal wall time: hosts in waves of ``workers``, each host spending the average device time."""
        return math.ceil(hosts / max(1, workers)) * (self.seconds / max(1, hosts))

    def schedule_model(self, batches: Sequence[Sequence[str]], workers: int) -> float:
        """Ideal wall time of a window: batches one after another; inside a batch, waves of ``workers``
        hosts, each wave as long as its slowest host's device time (the sleeps counted for it)."""
        total = 0.0
        for batch in batches:
            for start in range(0, len(batch), max(1, workers)):
                wave = batch[start : start + max(1, workers)]
                total += max((self.per_host.get(h, [0, 0, 0.0])[2] for h in wave), default=0.0)
        return total


class SimCpu:
    """Thread CPU time spent inside ``SimDriver`` methods (the simulated device's own work: its state files,
    config parsing, BGP session derivation), summed over threads; nested calls are counted once."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._saved: dict[str, Callable[..., Any]] = {}

    def install(self) -> None:
        from netimmutable.drivers.sim.driver import SimDriver

        for name, func in list(vars(SimDriver).items()):
            if inspect.isfunction(func) and (not name.startswith("__") or name == "__init__"):
                self._saved[name] = func
                setattr(SimDriver, name, self._wrap(func))

    def uninstall(self) -> None:
        from netimmutable.drivers.sim.driver import SimDriver

        for name, func in self._saved.items():
            setattr(SimDriver, name, func)
        self._saved = {}

    def reset(self) -> None:
        with self._lock:
            self.seconds, self.calls = 0.0, 0

    def _wrap(self, func: Callable[..., Any]) -> Callable[..., Any]:
        local, lock = self._local, self._lock

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if getattr(local, "depth", 0):
                return func(*args, **kwargs)
            local.depth = 1
            t0 = time.thread_time()
            try:
                return func(*args, **kwargs)
            finally:
                spent = time.thread_time() - t0
                local.depth = 0
                with lock:
                    self.seconds += spent
                    self.calls += 1

        wrapper.__name__ = getattr(func, "__name__", "wrapped")
        wrapper.__wrapped__ = func  # type: ignore[attr-defined]
        return wrapper


def _git(root: Path, *args: str) -> None:
    import subprocess

    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def fleet_spec(hosts: int, *, paired: bool = False) -> SynthSpec:
    return SynthSpec(hosts=hosts, paired=paired, **SMALL_SPEC)


def set_knobs(root: Path, names: Sequence[str], **knobs: Any) -> None:
    from netimmutable.drivers.sim import SimLab

    lab = SimLab(root / ".netimmutable" / "lab" / "sim")
    for name in names:
        lab.set_knobs(name, **knobs)


def make_fleet(
    root: Path, hosts: int, latency: float, commit_latency: float = 0.0, *, paired: bool = False
) -> list[str]:
    """Write, render and commit ``hosts`` small leaves, each a sim device running its own snapshot.

    ``paired``: hosts peer in pairs over BGP (see ``SynthSpec.paired``), so their expectations hold.
    """
    from bench.common import quiet
    from netimmutable.cli import main
    from netimmutable.drivers.sim import SimLab

    write_network(root, fleet_spec(hosts, paired=paired))
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.name", "Bench")
    _git(root, "config", "user.email", "bench@example.invalid")
    _git(root, "add", ".gitignore")  # a clean working tree: deploy refuses a dirty one
    _git(root, "commit", "-q", "-m", "ignore local state")
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
