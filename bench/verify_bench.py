"""Verify: `netimmutable verify` over a fleet of sim devices served by sim servers, vs the device-time model.

The simulated devices answer from sim server processes (``python -m netimmutable.lab.sim_server``), so
the CPU netimmutable spends per host is measured on its own (its process and its fan_out children); the
servers' CPU is reported apart. The same fleet is then verified with the sim in process (the devices' work
in netimmutable's processes, as before the server existed), for comparison.

The device-time model comes from the servers' counters: every call they answered and the latency they
answered it with (``ServerStats.device_seconds``), so it is built from the calls verify really made.

The fleet is built in one child process (``python -m bench.verify_bench setup ROOT PARAMS-JSON``) and the
runs are measured in another (``... measure ROOT PARAMS-JSON``), so the peak RSS is verify's own, not the
high-water mark of rendering the fleet or of the benchmarks that ran before it in the parent.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from bench.common import BenchResult, quiet
from bench.simfleet import make_fleet
from bench.synth import host_names

__all__ = ["run"]

FULL = {
    "hosts": 20000,
    "workers": 200,
    "latency": 0.1,
    "servers": 2,
    "dask_workers": [1, 2, 4],
    "dask_hosts": 2000,  # Dask costs ~9 ms of CPU per host task on this 2-core machine: 20,000 take minutes
}
QUICK = {"hosts": 300, "workers": 50, "latency": 0.05, "servers": 1}
GIB = 1024**3


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _connections(root: Path, names: Sequence[str], servers: Sequence[Any]) -> None:
    """Point every host at a server (round robin), or at the lab folder in process when ``servers`` is
    empty."""
    from netimmutable.drivers.sim import SimLab

    lab = SimLab(root / ".netimmutable" / "lab" / "sim")
    entries = {
        name: lab.connection_entry(name, servers[i % len(servers)].address if servers else None)
        for i, name in enumerate(names)
    }
    (root / ".netimmutable" / "connections.yaml").write_text(yaml.safe_dump({"hosts": entries}))


def _server_totals(servers: Sequence[Any]) -> dict[str, float]:
    totals = {"calls": 0.0, "device_seconds": 0.0, "cpu_s": 0.0, "late_max_s": 0.0, "late_sum_s": 0.0}
    for server in servers:
        stats = server.stats()
        for key, value in totals.items():
            totals[key] = max(value, stats[key]) if key == "late_max_s" else value + stats[key]
    return totals


def _verify(root: Path, workers: int, processes: int, servers: Sequence[Any]) -> dict[str, Any]:
    """One measured verify: wall, netimmutable's CPU (this process + fan_out children), servers' counters."""
    from netimmutable.cli import main

    out = root / "verify.json"
    # configs only, as before expectations became verify's default (the fleet's leaves have no BGP peers)
    args = ["verify", "--against", "HEAD", "--no-expectations", "--workers", str(workers), "-o", str(out)]
    args += ["--repo", str(root), "--processes", str(processes)]
    before = _server_totals(servers) if servers else {}
    cpu0, kids0 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)  # servers run on: not in it
    wall0 = time.perf_counter()
    with quiet():
        code = main(args, standalone_mode=False)
    wall = time.perf_counter() - wall0
    cpu = _cpu(resource.RUSAGE_SELF) - cpu0 + _cpu(resource.RUSAGE_CHILDREN) - kids0
    after = _server_totals(servers) if servers else {}
    states: dict[str, int] = {}
    for item in json.loads(out.read_text()).get("hosts", []):
        states[str(item.get("state"))] = states.get(str(item.get("state")), 0) + 1
    return {
        "exit_code": code or 0,
        "wall_s": wall,
        "cpu_s": cpu,
        "states": states,
        "server": {key: after[key] - before[key] for key in after if key != "late_max_s"}
        | ({"late_max_s": after["late_max_s"]} if after else {}),
    }


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a running process, from /proc (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _on_dask(
    root: Path, workers: int, dask_workers: Sequence[int], servers: Sequence[Any], limit: Sequence[str]
) -> dict[str, Any]:
    """``verify --cluster`` of the ``limit`` hosts on real ``dask scheduler`` / ``dask worker`` processes on
    loopback (1, 2, 4 ... workers, the same concurrency split between them); each worker reaches the sim
    servers itself."""
    from netimmutable.cli import main
    from tests.cluster_procs import WorkerSpec, dask_cluster

    out, rows = root / "verify-dask.json", {}
    for count in dask_workers:
        specs = [WorkerSpec(f"w{i}", nthreads=max(1, workers // count)) for i in range(count)]
        with dask_cluster(specs) as procs:
            pids = [procs.scheduler_pid, *procs.pids.values()]
            args = ["verify", "--against", "HEAD", "--no-expectations", "-o", str(out), "--repo", str(root)]
            args += ["--cluster", procs.address, "--limit", ",".join(limit)]
            before, cpu0 = {pid: _proc_cpu(pid) for pid in pids}, _cpu(resource.RUSAGE_SELF)
            srv0 = _server_totals(servers)
            wall0 = time.perf_counter()
            with quiet():
                code = main(args, standalone_mode=False)
            wall = time.perf_counter() - wall0
            coordinator = _cpu(resource.RUSAGE_SELF) - cpu0
            dask_cpu = sum(_proc_cpu(pid) - before[pid] for pid in pids)
            srv = _server_totals(servers)
        states: dict[str, int] = {}
        for item in json.loads(out.read_text()).get("hosts", []):
            states[str(item.get("state"))] = states.get(str(item.get("state")), 0) + 1
        rows[str(count)] = {
            "exit_code": code or 0,
            "wall_s": wall,
            "cpu_s": coordinator + dask_cpu,
            "coordinator_cpu_s": coordinator,
            "states": states,
            "server": {"calls": srv["calls"] - srv0["calls"], "cpu_s": srv["cpu_s"] - srv0["cpu_s"]},
        }
    return rows


def _setup(root: Path, params: dict[str, Any]) -> dict[str, Any]:
    """The fleet, in a process of its own (rendering 20,000 hosts must not be the measured peak RSS)."""
    t0 = time.perf_counter()
    names = make_fleet(root, int(params["hosts"]), float(params["latency"]))
    if names != host_names(int(params["hosts"])):
        raise RuntimeError("make_fleet named its hosts differently from bench.synth.host_names")
    return {"setup_s": time.perf_counter() - t0}


def _child(root: Path, params: dict[str, Any]) -> dict[str, Any]:
    from netimmutable.drivers.sim.state import LabStore
    from netimmutable.lab.sim_server import spawn

    workers = int(params["workers"])
    names = host_names(int(params["hosts"]))
    lab_root = LabStore(root / ".netimmutable" / "lab" / "sim").root
    servers = [spawn(lab_root, root / "servers", name=f"sim-server-{i}") for i in range(params["servers"])]
    runs: dict[str, Any] = {}
    try:
        _connections(root, names, servers)
        runs["warm-up"] = _verify(root, workers, 0, servers)  # the servers read (and keep) their files
        runs["server"] = _verify(root, workers, 0, servers)
        runs["server-1"] = _verify(root, workers, 1, servers)
        _connections(root, names, ())
        runs["in-process"] = _verify(root, workers, 0, ())
        # verify's processes only: the fan_out children have ended, the servers and Dask have not started
        peak = max(
            resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        )
        if params.get("dask_workers"):
            _connections(root, names, servers)
            limit = names[: int(params.get("dask_hosts", len(names)))]
            runs["dask"] = _on_dask(root, workers, params["dask_workers"], servers, limit)
    finally:
        for server in servers:
            server.stop()
    return {"cpu_count": os.cpu_count() or 1, "runs": runs, "peak_rss_bytes": peak * 1024}


def _run_child(*args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.verify_bench", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent.parent,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"verify child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


def run(work: Path, quick: bool) -> BenchResult:
    size = QUICK if quick else FULL
    result = BenchResult("verify")
    result.inputs = {**size, "expectations": False, "against": "HEAD", "strategy": "text"}
    fleet = _run_child("setup", str(work / "net"), json.dumps(size))
    data = _run_child("measure", str(work / "net"), json.dumps(size))
    data["setup_s"] = fleet["setup_s"]
    hosts, workers, runs = size["hosts"], size["workers"], data["runs"]
    served = runs["server"]
    calls, device_s = served["server"]["calls"], served["server"]["device_seconds"]
    model = math.ceil(hosts / workers) * device_s / hosts
    result.inputs["states"] = served["states"]
    result.inputs["verify_exit_code"] = served["exit_code"]
    result.inputs["device_calls_per_host"] = round(calls / hosts, 2)
    result.inputs["states_in_process"] = runs["in-process"]["states"]
    result.figure("fleet setup (render, commit, sim devices)", data["setup_s"], "s", "not part of the ratio")
    _rows(
        result, "sim servers, first run", runs["warm-up"], hosts, "cold caches: connections, digests, servers"
    )
    _rows(result, "sim servers", served, hosts, "default: processes by fleet size")
    _rows(result, "sim servers, --processes 1", runs["server-1"], hosts, "one process, one GIL")
    result.figure(
        "device-time model",
        model,
        "s",
        f"ceil({hosts}/{workers}) waves x {device_s / hosts:.2f} s device time/host "
        f"({calls / hosts:.1f} calls)",
    )
    srv = served["server"]
    result.figure(
        f"sim servers' cpu ({size['servers']} processes, not netimmutable's)",
        srv["cpu_s"] / hosts * 1000,
        "ms/host",
        f"{srv['cpu_s']:.2f} s; answers late by <= {srv['late_max_s'] * 1000:.1f} ms "
        f"(mean {srv['late_sum_s'] / max(1, srv['calls']) * 1000:.2f} ms)",
    )
    _rows(
        result, "sim in process", runs["in-process"], hosts, "the devices' work in netimmutable's processes"
    )
    dask_hosts = int(size.get("dask_hosts", hosts))
    for count, row in runs.get("dask", {}).items():
        result.figure(
            f"verify --cluster, {dask_hosts} hosts, {count} Dask worker(s)",
            row["wall_s"],
            "s",
            f"{dask_hosts / row['wall_s']:.0f} hosts/s; model "
            f"{math.ceil(dask_hosts / workers) * device_s / hosts:.1f} s; {row['states']}",
        )
        result.figure(
            f"  cpu per host, {count} Dask worker(s): coordinator + scheduler + workers",
            row["cpu_s"] / dask_hosts * 1000,
            "ms",
            f"coordinator {row['coordinator_cpu_s'] / dask_hosts * 1000:.2f} ms",
        )
    busy = served["cpu_s"] / (served["wall_s"] * data["cpu_count"])
    result.figure(
        "cpu of the default run, netimmutable's processes",
        served["cpu_s"],
        "s",
        f"{busy:.0%} of {data['cpu_count']} cores over its wall time",
    )
    result.figure(
        "peak RSS (largest verify process)", data["peak_rss_bytes"] / 2**20, "MiB", "fleet setup apart"
    )
    cpu_ms = served["cpu_s"] / hosts * 1000
    result.ratio("verify vs model", ("verify wall", served["wall_s"]), ("model", model), "<=", 1.2)
    result.ratio("netimmutable cpu per host vs 1 ms", ("cpu ms/host", cpu_ms), ("1 ms", 1.0), "<=", 1.0)
    result.ratio(
        "verify peak memory vs 1.5 GiB", ("peak RSS", data["peak_rss_bytes"] / GIB), ("1 GiB", 1.0), "<", 1.5
    )
    for name, item in runs.items():
        if name != "dask" and item["states"].get("in-sync", 0) != hosts:
            result.notes.append(f"{name}: not every host was in sync: {item['states']}")
    for count, item in runs.get("dask", {}).items():
        if item["states"].get("in-sync", 0) != dask_hosts:
            result.notes.append(f"{count} Dask worker(s): not every host was in sync: {item['states']}")
    return result


def _rows(result: BenchResult, label: str, item: dict[str, Any], hosts: int, note: str) -> None:
    result.figure(f"verify, {label}", item["wall_s"], "s", f"{hosts / item['wall_s']:.0f} hosts/s; {note}")
    result.figure(f"  netimmutable cpu per host, {label}", item["cpu_s"] / hosts * 1000, "ms")


if __name__ == "__main__":
    step = _setup if sys.argv[1] == "setup" else _child
    print(json.dumps(step(Path(sys.argv[2]), json.loads(sys.argv[3]))))
