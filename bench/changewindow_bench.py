"""Change window: `netimmutable deploy` over sim devices vs the device-time model of its schedule.

Not measured yet: deploy (netimmutable/deploy.py) landed while this harness was being written. The
pieces are ready (bench/simfleet.py builds a committed fleet of sim devices with latency and commit latency
knobs and counts the device time the pipeline really spends); what is missing is the second release, the
deploy invocation with canary/batches, and a synthetic expectations template that holds on sim devices.
"""

from __future__ import annotations

from pathlib import Path

from bench.common import BenchResult

__all__ = ["run"]

FULL = {"hosts": 500, "workers": 50, "latency": 0.1, "commit_latency": 1.0}
QUICK = {"hosts": 20, "workers": 10, "latency": 0.02, "commit_latency": 0.1}


def run(work: Path, quick: bool) -> BenchResult:
    del work
    result = BenchResult("changewindow", status="skipped")
    result.inputs = dict(QUICK if quick else FULL)
    result.reason = "not implemented yet (deploy landed during this session; see bench/changewindow_bench.py)"
    return result
