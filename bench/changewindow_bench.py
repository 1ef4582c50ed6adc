"""Change window: `netimmutable deploy` over sim devices vs the device-time model of its schedule.

Setup (not timed): a paired fleet of sim devices (``SynthSpec.paired``: hosts 2j and 2j+1 peer over eBGP, so
the expectations, every BGP session up and the loopback configured, hold on the devices), release 1
committed and deployed once without latency (every host recorded good on it), then release 2 changing every
host (an interface description), rendered and committed, and the latency knobs set.

Measured: ``netimmutable.deploy.deploy`` of release 2 with the given canary, batch size and workers (the
function the CLI calls, in process; the sim driver runs in process too). The model is the schedule laid out
with the device time the pipeline really spent: every latency sleep of the sim driver is counted per host
(``DeviceClock``), batches run one after another, the hosts of a batch in waves of ``workers``, each wave as
long as its slowest host's device time. Nothing else (netimmutable's CPU, git records, Nornir) is in the
model: that is the limit.

The run happens in a child process (``python -m bench.changewindow_bench ROOT PARAMS``) so its CPU time and
memory are the deploy's own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import BenchResult, quiet
from bench.simfleet import DeviceClock, SimCpu, fleet_spec, make_fleet, set_knobs

__all__ = ["run"]

FULL: dict[str, Any] = {
    "hosts": 500,
    "workers": 50,
    "batch_size": 50,
    "canary": "1",
    "latency": 0.1,
    "commit_latency": 1.0,
}
QUICK: dict[str, Any] = {
    "hosts": 20,
    "workers": 10,
    "batch_size": 10,
    "canary": "1",
    "latency": 0.01,
    "commit_latency": 0.05,
}


def _cli(root: Path, *args: str) -> None:
    from netimmutable.cli import main

    with quiet():
        code = main([*args, "--repo", str(root)], standalone_mode=False)
    if code not in (None, 0):
        raise RuntimeError(f"netimmutable {' '.join(args)} exited {code}")


def _outcomes(report: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for host in report.hosts:
        out[str(host.outcome)] = out.get(str(host.outcome), 0) + 1
    return out


def _child(root: Path, params: dict[str, Any]) -> dict[str, Any]:
    from bench.synth import mutate_hosts
    from netimmutable.deploy import deploy
    from netimmutable.deploy_model import DeployOptions, ProgressEvent, plan_window
    from netimmutable.repo import open_repo

    hosts, workers = int(params["hosts"]), int(params["workers"])
    latency, commit_latency = float(params["latency"]), float(params["commit_latency"])
    t0 = time.perf_counter()
    names = make_fleet(root, hosts, 0.0, 0.0, paired=True)
    first = deploy(open_repo(root), DeployOptions(workers=workers, batch_size=params["batch_size"]))
    if first.exit_code != 0:
        raise RuntimeError(f"the first deploy (records good) failed: {_outcomes(first)}")
    changed = mutate_hosts(root, fleet_spec(hosts, paired=True), 1, generation=1)
    _cli(root, "render")
    _cli(root, "commit", "-m", "release 2: every host changed")
    set_knobs(root, names, latency=latency, commit_latency=commit_latency)
    setup = time.perf_counter() - t0

    clock = DeviceClock(commit_over=(latency + commit_latency) / 2 if commit_latency > latency else 1e9)
    clock.install()
    sim_cpu = SimCpu()
    sim_cpu.install()
    batch_starts: list[float] = []

    def progress(event: ProgressEvent) -> None:
        if event.host is None and event.message.startswith(("canary:", "batch ")):
            batch_starts.append(time.monotonic())

    options = DeployOptions(
        workers=workers, batch_size=int(params["batch_size"]), canary=str(params["canary"])
    )
    wall0, cpu0 = time.monotonic(), time.process_time()  # the device clock's time base
    report = deploy(open_repo(root), options, progress)
    wall1, cpu = time.monotonic(), time.process_time() - cpu0
    wall = wall1 - wall0
    sim_cpu.uninstall()
    clock.uninstall()

    order = [h.host for h in report.hosts]
    batches = plan_window(order, str(params["canary"]), int(params["batch_size"]), changing=set(order))
    model = clock.schedule_model(batches, workers)
    per_host = list(clock.per_host.values())
    calls = sorted({int(e[0]) for e in per_host})
    commits = sorted({int(e[1]) for e in per_host})
    return {
        "setup_s": setup,
        "changed_hosts": changed,
        "exit_code": report.exit_code,
        "outcomes": _outcomes(report),
        "wall_s": wall,
        "cpu_s": cpu,
        "sim_cpu_s": sim_cpu.seconds,
        "model_s": model,
        "batches": len(batches),
        "device_calls": clock.calls,
        "device_seconds": clock.seconds,
        "latency_calls_per_host": calls,
        "commit_sleeps_per_host": commits,
        "hosts_with_device_time": len(per_host),
        "before_first_device_call_s": (clock.first_at - wall0) if clock.first_at else None,
        "after_last_device_call_s": (wall1 - clock.last_at) if clock.last_at else None,
        "batch_starts_s": [round(t - wall0, 3) for t in batch_starts],
    }


def run(work: Path, quick: bool) -> BenchResult:
    size = dict(QUICK if quick else FULL)
    result = BenchResult("changewindow")
    result.inputs = {
        **size,
        "expectations": "paired eBGP sessions up + loopback (get_bgp_neighbors, get_interfaces_ip)",
        "change": "every host: one interface description",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bench.changewindow_bench", str(work / "net"), json.dumps(size)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent.parent,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"change window child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    hosts = int(size["hosts"])
    result.inputs["outcomes"] = data["outcomes"]
    result.inputs["deploy_exit_code"] = data["exit_code"]
    result.inputs["device_calls_per_host"] = data["latency_calls_per_host"]
    result.inputs["commits_per_host"] = data["commit_sleeps_per_host"]
    result.inputs["batches"] = data["batches"]
    result.inputs["batch_starts_s"] = data["batch_starts_s"]
    per_host_device = data["device_seconds"] / max(1, data["hosts_with_device_time"])
    result.figure("fleet setup (render, commit, first deploy)", data["setup_s"], "s", "not part of the ratio")
    result.figure("netimmutable deploy", data["wall_s"], "s", f"{hosts / data['wall_s']:.1f} hosts/s")
    result.figure(
        "device-time model of the schedule",
        data["model_s"],
        "s",
        f"{data['batches']} batches (canary {size['canary']}, then {size['batch_size']}), "
        f"{per_host_device:.2f} s device time/host",
    )
    result.figure(
        "before the first device call",
        data["before_first_device_call_s"] or 0.0,
        "s",
        "gate, plan, locks, journal",
    )
    result.figure(
        "after the last device call",
        data["after_last_device_call_s"] or 0.0,
        "s",
        "run record, locks released",
    )
    result.figure("netimmutable cpu per host (incl. sim driver)", data["cpu_s"] / hosts * 1000, "ms")
    result.figure("  of which the sim driver", data["sim_cpu_s"] / hosts * 1000, "ms")
    result.ratio("deploy vs model", ("deploy wall", data["wall_s"]), ("model", data["model_s"]), "<=", 1.15)
    if data["outcomes"].get("deployed", 0) != hosts:
        result.notes.append(f"not every host was deployed: {data['outcomes']}")
    return result


if __name__ == "__main__":
    print(json.dumps(_child(Path(sys.argv[1]), json.loads(sys.argv[2]))))
