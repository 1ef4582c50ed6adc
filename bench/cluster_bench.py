"""Verify spread over processes: ``fanout.py``'s forked children vs a local Dask cluster of processes.

One child process (``python -m bench.cluster_bench ROOT PARAMS``) builds a sim fleet and verifies it, side by
side in that one run: ``--processes 1`` (one GIL, the reference), ``--processes N`` (``fan_out``: N forked
children with everything in memory), and ``--cluster`` on a ``distributed.LocalCluster(processes=True)``
of N worker processes (what replacing ``fan_out`` with the Dask engine would run), whose start-up is timed
on its own and counted in the ratio, as a verify that started it would pay it. The fleet's devices answer
after the same latency in every run. docs/performance.md keeps the decision this bench informs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import BenchResult, quiet
from bench.simfleet import make_fleet

__all__ = ["run"]

FULL = {"hosts": 5000, "workers": 200, "latency": 0.1, "processes": 2}
QUICK = {"hosts": 40, "workers": 20, "latency": 0.05, "processes": 2}


def _verify(args: list[str], out: Path) -> tuple[float, dict[str, int]]:
    from netimmutable.cli import main

    wall0 = time.perf_counter()
    with quiet():
        main([*args, "-o", str(out)], standalone_mode=False)
    wall = time.perf_counter() - wall0
    states: dict[str, int] = {}
    for item in json.loads(out.read_text()).get("hosts", []):
        states[str(item["state"])] = states.get(str(item["state"]), 0) + 1
    return wall, states


def _child(root: Path, hosts: int, workers: int, latency: float, processes: int) -> dict[str, Any]:
    import logging

    from distributed import LocalCluster

    make_fleet(root, hosts, latency)
    base = [
        "verify",
        "--against",
        "HEAD",
        "--no-expectations",
        "--workers",
        str(workers),
        "--repo",
        str(root),
    ]
    out = root / "verify.json"
    single, single_states = _verify([*base, "--processes", "1"], out)
    fanout, fanout_states = _verify([*base, "--processes", str(processes)], out)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    t0 = time.perf_counter()
    cluster = LocalCluster(
        n_workers=processes,
        threads_per_worker=max(1, workers // processes),  # the same device concurrency as --workers
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    )
    startup = time.perf_counter() - t0
    try:
        dask, dask_states = _verify([*base, "--cluster", cluster.scheduler_address], out)
    finally:
        cluster.close()
    return {
        "single_s": single,
        "fanout_s": fanout,
        "dask_startup_s": startup,
        "dask_s": dask,
        "states": {"single": single_states, "fanout": fanout_states, "dask": dask_states},
        "cpu_count": os.cpu_count() or 1,
    }


def run(work: Path, quick: bool) -> BenchResult:
    size = QUICK if quick else FULL
    result = BenchResult("cluster")
    result.inputs = {**size, "expectations": False, "against": "HEAD"}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.cluster_bench", str(work / "net"), json.dumps(size)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent.parent,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"cluster bench child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    hosts, n = size["hosts"], size["processes"]
    result.inputs["states"] = data["states"]
    result.figure("verify --processes 1", data["single_s"], "s", f"{hosts / data['single_s']:.0f} hosts/s")
    result.figure(
        f"verify --processes {n} (fan_out, fork)",
        data["fanout_s"],
        "s",
        f"{hosts / data['fanout_s']:.0f} hosts/s",
    )
    result.figure(f"LocalCluster start ({n} worker processes)", data["dask_startup_s"], "s")
    result.figure(
        f"verify --cluster (LocalCluster, {n} processes)",
        data["dask_s"],
        "s",
        f"{hosts / data['dask_s']:.0f} hosts/s without the start",
    )
    result.ratio(
        "local dask cluster vs fan_out",
        ("LocalCluster start + verify", data["dask_startup_s"] + data["dask_s"]),
        ("fan_out verify", data["fanout_s"]),
        "<=",
        1.0,
    )
    for name, states in data["states"].items():
        if states.get("in-sync", 0) != hosts:
            result.notes.append(f"{name}: not every host was in sync: {states}")
    return result


if __name__ == "__main__":
    params = json.loads(sys.argv[2])
    print(
        json.dumps(
            _child(
                Path(sys.argv[1]), params["hosts"], params["workers"], params["latency"], params["processes"]
            )
        )
    )
