"""What each comparison strategy costs (issue 15): ``text`` (one ``get_config``), ``device`` (load the
artifact as a replace candidate, the device's ``compare_config``, discard: three calls) and ``text-first``
(equal text ends it; a difference is confirmed by the device: four calls). Measured, no target.

NAPALM's real ``eos`` driver (pyeapi over HTTP) talks to the EOS device double of the tests
(``tests/doubles/eos.py``) on loopback, through netimmutable's ``Device``: what is measured is the calls and
the driver's own work, not a network (a real device adds its round trip and its own work to every call, so
``device`` costs about three round trips where ``text`` costs one). Each figure is the median of ``ROUNDS``
comparisons of one host, in sync and with one line changed, side by side in one run.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from nornir.core.inventory import ConnectionOptions, Host

from bench.common import BenchResult
from netimmutable.compare import Strategy, compare_running
from netimmutable.connections import CONNECTION
from netimmutable.device import Device
from tests.doubles.eos import start_eos

__all__ = ["run"]

ROUNDS = 40
QUICK_ROUNDS = 8
CHANGE = "ip route 10.254.254.0/24 Null0"


def _medians(device: Device, intended: str, want_equal: bool, rounds: int) -> dict[Strategy, float]:
    """Median seconds per strategy, the strategies interleaved round by round (no order bias), after one
    warm-up round of each (pyeapi's session, the normalizer's memo)."""
    times: dict[Strategy, list[float]] = {strategy: [] for strategy in Strategy}
    for index in range(rounds + 1):
        for strategy in Strategy:
            started = time.perf_counter()
            equal = compare_running(device, intended, strategy).equal
            if index:
                times[strategy].append(time.perf_counter() - started)
            assert equal is want_equal, strategy  # noqa: S101 - a wrong bench is worse
    return {strategy: statistics.median(values) for strategy, values in times.items()}


def run(work: Path, quick: bool) -> BenchResult:
    del work  # nothing on disk
    rounds = QUICK_ROUNDS if quick else ROUNDS
    result = BenchResult("strategy")
    with start_eos("r1") as double:
        options = ConnectionOptions(extras={"optional_args": dict(double.optional_args)})
        host = Host(
            "r1",
            hostname=double.hostname,
            username=double.username,
            password=double.password,
            platform="eos",
            connection_options={CONNECTION: options},
        )
        in_sync = double.running()
        changed = in_sync.replace("\nend", f"\n{CHANGE}\nend") if "\nend" in in_sync else in_sync + CHANGE
        with Device.open(host, attempts=1) as device:
            sync = _medians(device, in_sync, True, rounds)
            diff = _medians(device, changed, False, rounds)
        assert not double.has_pending()  # noqa: S101 - comparisons never commit
    for label, medians in (("in sync", sync), ("one line changed", diff)):
        for strategy, seconds in medians.items():
            result.figure(f"{strategy.value}: {label}", seconds * 1000, "ms", f"median of {rounds}")
    result.inputs = {"driver": "eos (NAPALM, pyeapi over HTTP)", "device": "EOS double on loopback"}
    result.inputs.update(rounds=rounds, running_lines=in_sync.count("\n"))
    for label, medians in (("in sync", sync), ("one line changed", diff)):
        result.figure(
            f"device / text, {label}",
            medians[Strategy.DEVICE] / medians[Strategy.TEXT],
            "x",
            "three calls against one; the double's own work (a candidate parsed, a diff) counts as device",
        )
    result.notes.append(
        "no target: the issue asks what `device` costs. text-first costs text when in sync and text + device "
        "otherwise; on a real device each call also costs its round trip"
    )
    return result
