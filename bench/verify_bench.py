"""Verify: `netimmutable verify` over a fleet of sim devices vs the device-time model, and peak memory.

The measured run happens in a child process (``python -m bench.verify_bench CHILD-ARGS``) so its peak
RSS is verify's own, not the high-water mark of the benchmarks that ran before it in the parent.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench.common import BenchResult, quiet
from bench.simfleet import DeviceClock, SimCpu, make_fleet

__all__ = ["run"]

FULL = {"hosts": 5000, "workers": 200, "latency": 0.1}
QUICK = {"hosts": 40, "workers": 20, "latency": 0.05}
GIB = 1024**3


def _cpu_all() -> float:
    """CPU seconds (user + system) of this process and of its children that ended (fan_out's workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _child(root: Path, hosts: int, workers: int, latency: float) -> dict[str, float]:
    from netimmutable.cli import main

    t0 = time.perf_counter()
    make_fleet(root, hosts, latency)
    setup = time.perf_counter() - t0
    clock = DeviceClock()
    clock.install()
    sim_cpu = SimCpu()
    sim_cpu.install()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out = root / "verify.json"
    # configs only, as before expectations became verify's default (the fleet's leaves have no BGP peers)
    args = ["verify", "--against", "HEAD", "--no-expectations", "--workers", str(workers), "-o", str(out)]
    args += ["--repo", str(root)]
    # one process first: the device clock and the sim's CPU are counted in this process only
    wall0, cpu0 = time.perf_counter(), time.process_time()
    with quiet():
        main([*args, "--processes", "1"], standalone_mode=False)
    wall_single, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    sim_cpu.uninstall()
    calls, seconds, model = clock.calls, clock.seconds, clock.model(hosts, workers)
    # then the product's default: large fleets are spread over the cores (fan_out)
    cpu_before = _cpu_all()
    wall0 = time.perf_counter()
    with quiet():
        code = main(args, standalone_mode=False)
    wall = time.perf_counter() - wall0
    cpu_all = _cpu_all() - cpu_before
    report = json.loads(out.read_text())
    states: dict[str, int] = {}
    for item in report.get("hosts", []):
        state = str(item.get("state"))
        states[state] = states.get(state, 0) + 1
    return {
        "exit_code": code or 0,
        "setup_s": setup,
        "wall_s": wall,
        "wall_single_s": wall_single,
        "cpu_all_s": cpu_all,
        "cpu_count": os.cpu_count() or 1,
        "cpu_s": cpu,
        "sim_cpu_s": sim_cpu.seconds,
        "device_calls": calls,
        "device_seconds": seconds,
        "model_s": model,
        "peak_rss_bytes": max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        * 1024,
        "rss_before_bytes": rss_before,
        "states": states,  # type: ignore[dict-item]
    }


def run(work: Path, quick: bool) -> BenchResult:
    size = QUICK if quick else FULL
    result = BenchResult("verify")
    result.inputs = {**size, "expectations": False, "against": "HEAD"}
    root = work / "net"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.verify_bench", str(root), json.dumps(size)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent.parent,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"verify child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    hosts = size["hosts"]
    result.inputs["states"] = data["states"]
    result.inputs["verify_exit_code"] = data["exit_code"]
    result.inputs["device_calls_per_host"] = round(data["device_calls"] / hosts, 2)
    result.figure("fleet setup (render, commit, sim devices)", data["setup_s"], "s", "not part of the ratio")
    result.figure(
        "netimmutable verify (default: processes by fleet size)",
        data["wall_s"],
        "s",
        f"{hosts / data['wall_s']:.0f} hosts/s",
    )
    result.figure("netimmutable verify --processes 1", data["wall_single_s"], "s", "one process, one GIL")
    result.figure(
        "device-time model",
        data["model_s"],
        "s",
        f"ceil({hosts}/{size['workers']}) waves x {data['device_seconds'] / hosts:.2f} s device time/host",
    )
    result.figure(
        "netimmutable cpu per host (incl. sim driver; 1 process)", data["cpu_s"] / hosts * 1000, "ms"
    )
    result.figure("  of which the sim driver", data["sim_cpu_s"] / hosts * 1000, "ms", "in process")
    busy = data["cpu_all_s"] / (data["wall_s"] * data["cpu_count"])
    result.figure(
        "cpu of the default run, all processes",
        data["cpu_all_s"],
        "s",
        f"{busy:.0%} of {data['cpu_count']} cores for its whole wall time; "
        f"{data['cpu_all_s'] / (data['model_s'] * data['cpu_count']):.0%} of the model's",
    )
    result.figure("peak RSS (largest process)", data["peak_rss_bytes"] / 2**20, "MiB")
    result.ratio("verify vs model", ("verify wall", data["wall_s"]), ("model", data["model_s"]), "<=", 1.2)
    result.ratio(
        "verify peak memory vs 1.5 GiB", ("peak RSS", data["peak_rss_bytes"] / GIB), ("1 GiB", 1.0), "<", 1.5
    )
    if data["states"].get("in-sync", 0) != hosts:
        result.notes.append(f"not every host was in sync: {data['states']}")
    return result


if __name__ == "__main__":
    params = json.loads(sys.argv[2])
    print(json.dumps(_child(Path(sys.argv[1]), params["hosts"], params["workers"], params["latency"])))
