"""Real Dask processes on loopback for the cluster tests: a ``dask scheduler`` and named ``dask worker`` s.

``dask_cluster(workers)`` starts the scheduler on a free port of 127.0.0.1, then each worker (no nanny, so
its PID is the process that runs the tasks: a SIGKILL to it is a worker dying mid-task), waits until every
worker is registered, yields a ``DaskProcs`` (the address, each worker's PID), and stops all of them by PID
afterwards, also when the test failed. Workers import the checkout's package (``PYTHONPATH``) and get the
environment given (e.g. device passwords: the worker's own credentials).

Use::

    with dask_cluster([WorkerSpec("w-lon", resources={"site-lon1": 100})]) as procs:
        ... Cluster.connect(ClusterOptions(procs.address)) ...
        procs.kill("w-lon")  # SIGKILL
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 90.0
"""Seconds the scheduler and the workers have to come up (the test machine may be busy)."""


@dataclass(frozen=True)
class WorkerSpec:
    name: str
    nthreads: int = 2
    resources: Mapping[str, float] = field(default_factory=dict)


@dataclass
class DaskProcs:
    address: str
    scheduler_pid: int
    workers: dict[str, subprocess.Popen[bytes]]
    logs: Path
    env: dict[str, str]

    @property
    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.workers.items()}

    def kill(self, name: str) -> None:
        """SIGKILL worker ``name`` (by its PID) and reap it."""
        proc = self.workers[name]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def log(self, name: str) -> str:
        """What a process (``scheduler`` or a worker's name) printed: for assertion messages."""
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _dask(module: str) -> list[str]:
    return [sys.executable, "-m", f"distributed.cli.{module}"]


def _registered(address: str) -> set[str]:
    from distributed import Client

    with Client(address, timeout=10, set_as_default=False) as client:
        info = client.scheduler_info(n_workers=-1)
    return {str(w.get("name")) for w in info["workers"].values()}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def start_worker(procs: DaskProcs, spec: WorkerSpec) -> None:
    """Start one more worker and wait until the scheduler has it."""
    args = [
        *_dask("dask_worker"),
        procs.address,
        "--name",
        spec.name,
        "--nthreads",
        str(spec.nthreads),
        "--no-nanny",
        "--no-dashboard",
        "--host",
        "127.0.0.1",
        "--local-directory",
        str(procs.logs / f"{spec.name}-dir"),
        "--death-timeout",
        "60",  # a worker whose scheduler is gone exits by itself
    ]
    if spec.resources:
        args += ["--resources", ",".join(f"{k}={v:g}" for k, v in spec.resources.items())]
    with (procs.logs / f"{spec.name}.log").open("wb") as out:
        procs.workers[spec.name] = subprocess.Popen(
            args, cwd=REPO, env=procs.env, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + START_TIMEOUT
    while spec.name not in _registered(procs.address):
        if procs.workers[spec.name].poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"worker {spec.name} did not register:\n{procs.log(spec.name)}")
        time.sleep(0.2)


@contextmanager
def dask_cluster(workers: Sequence[WorkerSpec], env: Mapping[str, str] | None = None) -> Iterator[DaskProcs]:
    """A scheduler and ``workers`` on 127.0.0.1 (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="netimmutable-dask-") as tmp:
        logs = Path(tmp)
        scheduler_file = logs / "scheduler.json"
        child_env = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO)}
        with (logs / "scheduler.log").open("wb") as out:
            scheduler = subprocess.Popen(
                [
                    *_dask("dask_scheduler"),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    "--scheduler-file",
                    str(scheduler_file),
                ],
                cwd=REPO,
                env=child_env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        procs = DaskProcs("", scheduler.pid, {}, logs, child_env)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not scheduler_file.exists() or not scheduler_file.read_text().strip():
                if scheduler.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the scheduler did not start:\n{procs.log('scheduler')}")
                time.sleep(0.1)
            procs.address = json.loads(scheduler_file.read_text())["address"]
            for spec in workers:
                start_worker(procs, spec)
            yield procs
        finally:
            for proc in procs.workers.values():
                _stop(proc)
            _stop(scheduler)
