"""Real routers: deploying one changed FRR router end to end vs the bare NAPALM call sequence.

Needs root and the FRR lab (``netimmutable.lab``: Debian packages frr, frr-pythontools, openssh-server);
otherwise the benchmark is skipped with the reason. Not part of ``--quick``.

Setup (as tests/integration does): a temporary copy of the example network (inventory, templates,
netimmutable.yaml, rendered snapshots) in a new git repository, ``lab_up`` (four FRR routers in network
namespaces, over SSH), release 1 committed and deployed once (every router recorded good on it).
Only one lab can run on a machine: when ``lab_up`` finds one up (someone's integration tests), it retries
for up to ``LAB_WAIT`` seconds, then the benchmark is skipped. ``lab_down`` always runs.

Measured, alternately, the same one-line change on r2 (a static route added, then removed), each deploy
followed at once by the two bare sequences it is compared with (away from its release and back, so the
next deploy finds no drift):
- ``netimmutable deploy --limit r2`` (the deploy API, in process, with the default soak ``auto``): gate,
  plan, locks, journal, pre-checks (pending commit, drift against last-good, pre-state), the BGP hold times
  for the soak, load + compare, commit with the revert timer, post-checks (expectations: BGP sessions and
  interfaces) held through the soak, confirm, records. The soak's wait between its check rounds (hold time +
  2 s) is reported on its own and left out of the ratio; the soak's device reads are in it;
- the bare NAPALM sequence on the same driver: open, ``load_replace_candidate``, ``compare_config``,
  ``commit_config(revert_in=...)``, ``confirm_commit``, ``get_bgp_neighbors``, ``get_interfaces_ip``,
  close, pushing the very same two artifacts (so the device goes through the same changes).

Per run it also reports the time inside each driver call and the SSH execs (each a round trip to the
router): where the difference goes.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.common import BenchResult, quiet

__all__ = ["run"]

REPO = Path(__file__).resolve().parents[1]
ROUNDS = 3  # each round: netimmutable add, bare NAPALM remove + add; netimmutable remove, bare add + remove
LAB_WAIT = 300.0
LAB_RETRY = 20.0
ROUTE = "10.255.122.0/24"
HOST = "r2"


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    missing = [tool for tool in ("vtysh", "ip", "sshd") if shutil.which(tool) is None]
    if missing:
        return (
            f"FRR lab not available: {', '.join(missing)} not installed "
            "(apt-get install frr frr-pythontools openssh-server)"
        )
    try:
        from netimmutable.errors import LabError
        from netimmutable.lab.frr_lab import check_prerequisites
    except ImportError as exc:
        return f"netimmutable.lab cannot be imported: {exc}"
    try:
        check_prerequisites()
    except LabError as exc:
        return f"FRR lab not available: {exc}"
    return None


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def _cli(root: Path, *args: str) -> int:
    from netimmutable.cli import main

    with quiet():
        code = main([*args, "--repo", str(root)], standalone_mode=False)
    return int(code or 0)


def _network(root: Path) -> None:
    root.mkdir(parents=True)
    for name in ("inventory", "templates"):
        shutil.copytree(REPO / name, root / name)
    shutil.copy2(REPO / "netimmutable.yaml", root / "netimmutable.yaml")
    (root / ".gitignore").write_text("/.netimmutable/\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.name", "Bench")
    _git(root, "config", "user.email", "bench@example.invalid")
    _git(root, "add", ".gitignore")
    _git(root, "commit", "-q", "-m", "ignore local state")
    if _cli(root, "render") != 0:
        raise RuntimeError("netimmutable render failed on the example network")


def _lab_up(root: Path) -> str | None:
    """Bring the lab up; returns why not (another lab stayed up for LAB_WAIT seconds), None when up."""
    from netimmutable.errors import LabError
    from netimmutable.lab import lab_up

    deadline = time.monotonic() + LAB_WAIT
    while True:
        try:
            lab_up(root)
            return None
        except LabError as exc:
            busy = "already up" in str(exc) or "already used" in str(exc)
            if not busy:
                raise
            if time.monotonic() >= deadline:
                return f"another FRR lab stayed up for {LAB_WAIT:.0f} s (only one can run): {exc}"
            time.sleep(LAB_RETRY)


def _set_route(root: Path, present: bool) -> None:
    """Add (or remove) one static route of HOST in inventory/hosts.yaml."""
    path = root / "inventory" / "hosts.yaml"
    text = path.read_text()
    start = text.index(f"\n{HOST}:")
    end = text.find("\nr", start + 1)
    end = len(text) if end < 0 else end
    block = text[start:end]
    line = f"      - {{prefix: {ROUTE}, nexthop: blackhole}}\n"
    if present and line not in block:
        block = re.sub(r"(static_routes:\n)", lambda m: m.group(1) + line, block, count=1)
    elif not present:
        block = block.replace(line, "")
    path.write_text(text[:start] + block + text[end:])


def _release(root: Path, present: bool) -> str:
    _set_route(root, present)
    if _cli(root, "commit", "-m", f"{HOST}: route {ROUTE} {'added' if present else 'removed'}") != 0:
        raise RuntimeError("netimmutable commit failed")
    return (root / "snapshots" / f"{HOST}.cfg").read_text()


def _connection(root: Path) -> dict[str, Any]:
    hosts = yaml.safe_load((root / ".netimmutable" / "connections.yaml").read_text())["hosts"]
    return dict(hosts[HOST])


_CALLS = (
    "open",
    "close",
    "load_replace_candidate",
    "compare_config",
    "commit_config",
    "confirm_commit",
    "rollback",
    "discard_config",
    "has_pending_commit",
    "get_config",
    "get_facts",
    "get_interfaces",
    "get_interfaces_ip",
    "get_bgp_neighbors",
    "get_bgp_neighbors_detail",
    "read_together",
)


class _CallLog:
    """Counts and times the driver's NAPALM calls (outermost only), and the SSH execs under them (each a
    round trip to the router), to say where each run's time goes."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self.execs = 0
        self._depth = 0
        self._saved: list[tuple[type, str, Any]] = []

    def install(self, cls: type) -> None:
        for name in _CALLS:
            func = getattr(cls, name, None)
            if func is None:
                continue
            self._saved.append((cls, name, func))
            setattr(cls, name, self._wrap(name, func))
        from netimmutable.drivers.frr.transport import SshTransport

        run = SshTransport.run
        self._saved.append((SshTransport, "run", run))

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.execs += 1
            return run(*args, **kwargs)

        SshTransport.run = counted  # type: ignore[method-assign]

    def uninstall(self) -> None:
        for cls, name, func in self._saved:
            setattr(cls, name, func)

    def take(self) -> tuple[dict[str, int], dict[str, float], int]:
        out = (dict(self.calls), dict(self.seconds), self.execs)
        self.calls, self.seconds, self.execs = {}, {}, 0
        return out

    def _wrap(self, name: str, func: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return func(*args, **kwargs)
            self._depth += 1
            t0 = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self._depth -= 1
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0
                self.calls[name] = self.calls.get(name, 0) + 1

        return wrapper


def _bare(entry: dict[str, Any], config: str, revert_in: int) -> float:
    import napalm

    driver_cls = napalm.get_network_driver(str(entry.get("driver") or "frr"))
    t0 = time.perf_counter()
    device = driver_cls(
        str(entry["hostname"]),
        str(entry.get("username") or ""),
        os.environ.get("NETIMMUTABLE_PASSWORD", ""),
        optional_args=dict(entry.get("optional_args") or {}),
    )
    device.open()
    try:
        device.load_replace_candidate(config=config)
        if not device.compare_config():
            raise RuntimeError("bare NAPALM: nothing to change (the benchmark expects a one-line change)")
        device.commit_config(revert_in=revert_in)
        device.confirm_commit()
        device.get_bgp_neighbors()
        device.get_interfaces_ip()
    finally:
        device.close()
    return time.perf_counter() - t0


def _nim(root: Path) -> tuple[float, float]:
    """One deploy with the default soak (``auto``: the largest BGP hold time + 2 s): (wall seconds, of which
    waiting between the soak's rounds). The ratio compares the wall time less that wait with the bare NAPALM
    sequence: the soak's device reads (hold times, every round's state) count, its sleeping does not."""
    from netimmutable.deploy import deploy
    from netimmutable.deploy_model import DeployOptions
    from netimmutable.repo import open_repo

    t0 = time.perf_counter()
    with quiet():
        report = deploy(open_repo(root), DeployOptions(limit=(HOST,), soak="auto"))
    wall = time.perf_counter() - t0
    host = report.host(HOST)
    if report.exit_code != 0 or host is None:
        raise RuntimeError(f"netimmutable deploy --limit {HOST} exited {report.exit_code}")
    return wall, host.soak_wait


@dataclass
class _Runs:
    """What the alternating runs measured: per run seconds, and per pair of runs the driver calls."""

    nim: list[float] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    nim_device: list[float] = field(default_factory=list)
    bare_device: list[float] = field(default_factory=list)
    nim_calls: dict[str, int] = field(default_factory=dict)
    bare_calls: dict[str, int] = field(default_factory=dict)
    nim_per_call: dict[str, list[float]] = field(default_factory=dict)
    nim_execs: list[int] = field(default_factory=list)
    bare_execs: list[int] = field(default_factory=list)


def _alternate(root: Path, entry: dict[str, Any], revert_in: int) -> _Runs:
    """ROUNDS times: netimmutable adds the route, bare NAPALM takes it away and back; netimmutable removes
    it, bare NAPALM puts it back and removes it. Each bare pair runs right after the deploy it is compared
    with (the load of other programs on the machine falls on both alike), and leaves r2 on the release
    netimmutable deployed (its next pre-check finds no drift)."""
    import napalm

    runs = _Runs()
    log = _CallLog()
    log.install(napalm.get_network_driver(str(entry.get("driver") or "frr")))
    current = (root / "snapshots" / f"{HOST}.cfg").read_text()  # what r2 runs now
    try:
        for _ in range(ROUNDS):
            for present in (True, False):
                config = _release(root, present)
                wall, wait = _nim(root)
                runs.nim.append(wall - wait)
                runs.waits.append(wait)
                runs.nim_calls, seconds, count = log.take()
                runs.nim_device.append(sum(seconds.values()))
                runs.nim_execs.append(count)
                for name, value in seconds.items():
                    runs.nim_per_call.setdefault(name, []).append(value)
                runs.bare.extend(_bare(entry, text, revert_in) for text in (current, config))
                runs.bare_calls, seconds, count = log.take()
                runs.bare_device.append(sum(seconds.values()) / 2)
                runs.bare_execs.append(count // 2)
                current = config
    finally:
        log.uninstall()
    return runs


def _spread(values: list[float]) -> str:
    return f"{len(values)} runs, {min(values):.2f}-{max(values):.2f} s"


def _measure(root: Path, result: BenchResult) -> None:
    from netimmutable.artifacts import open_git
    from netimmutable.records import Records
    from netimmutable.repo import open_repo

    if _cli(root, "commit", "-m", "release 1: what the lab runs") != 0:
        raise RuntimeError("netimmutable commit of release 1 failed")
    t0 = time.perf_counter()
    if _cli(root, "deploy", "--yes") != 0:
        raise RuntimeError("the first deploy (records every router good) failed")
    first = time.perf_counter() - t0
    revert_in = int(open_repo(root).settings.deploy.revert_in or 0) or 300
    runs = _alternate(root, _connection(root), revert_in)
    repo = open_repo(root)
    with open_git(repo) as gitrepo:
        good = Records(repo, gitrepo).last_good(HOST)
    result.inputs["last_good_is_head"] = bool(
        good and good.release == _git(root, "rev-parse", "HEAD").strip()
    )
    result.inputs.update(
        {
            "router": HOST,
            "change": f"ip route {ROUTE} blackhole, added then removed",
            "rounds": ROUNDS,
            "revert_in": revert_in,
            "nim_runs_s": [round(x, 3) for x in runs.nim],
            "nim_soak_wait_s": [round(x, 3) for x in runs.waits],
            "bare_runs_s": [round(x, 3) for x in runs.bare],
            "nim_driver_calls_per_run": dict(sorted(runs.nim_calls.items())),
            "bare_driver_calls_per_run": {k: v / 2 for k, v in sorted(runs.bare_calls.items())},
            "nim_driver_ms_per_run": {
                k: round(1000 * statistics.median(v), 1) for k, v in sorted(runs.nim_per_call.items())
            },
            "ssh_execs_per_run": {
                "nim": statistics.median(runs.nim_execs),
                "bare": statistics.median(runs.bare_execs),
            },
        }
    )
    nim_med, bare_med = statistics.median(runs.nim), statistics.median(runs.bare)
    result.figure("first deploy, 4 routers unchanged (setup)", first, "s", "verify + records, not compared")
    result.figure(
        "netimmutable deploy --limit r2 (median)",
        nim_med,
        "s",
        f"{_spread(runs.nim)}; all checks and the soak's reads, without its wait",
    )
    result.figure(
        "  soak wait (median, not compared)",
        statistics.median(runs.waits),
        "s",
        "soak auto: the largest BGP hold time + 2 s, slept between check rounds",
    )
    result.figure("bare NAPALM sequence (median)", bare_med, "s", _spread(runs.bare))
    for who, device, calls, execs in (
        ("netimmutable", runs.nim_device, sum(runs.nim_calls.values()), runs.nim_execs),
        ("bare", runs.bare_device, sum(runs.bare_calls.values()) / 2, runs.bare_execs),
    ):
        result.figure(
            f"  time inside driver calls, {who}",
            statistics.median(device),
            "s",
            f"{calls:.0f} calls, {statistics.median(execs):.0f} SSH execs per run",
        )
    result.ratio("deploy vs bare NAPALM", ("netimmutable", nim_med), ("bare NAPALM", bare_med), "<=", 1.5)


def run(work: Path, quick: bool) -> BenchResult:
    if quick:
        return BenchResult("frr", status="skipped", reason="not part of --quick (needs the real FRR lab)")
    why = _unavailable()
    if why:
        return BenchResult("frr", status="skipped", reason=why)
    from netimmutable.lab import lab_down

    result = BenchResult("frr")
    root = work / "network"
    _network(root)
    try:
        busy = _lab_up(root)
        if busy:
            return BenchResult("frr", status="skipped", reason=busy)
        _measure(root, result)
    finally:
        lab_down(root)
    return result
