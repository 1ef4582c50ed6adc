"""``lab up --sim``: the same network from simulated devices (``netimmutable.drivers.sim``), no privileges.

Devices live under ``<repo>/.netimmutable/lab/sim/``; BGP state comes from the sim driver, which derives
sessions from the devices' configs, so "every session Established" means the snapshots agree with each other.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from netimmutable.drivers.sim.driver import SimDriver
from netimmutable.drivers.sim.lab import SimLab
from netimmutable.errors import LabError
from netimmutable.lab.model import LabRouterStatus, LabStatus
from netimmutable.lab.state import (
    LabState,
    connections_path,
    lab_dir,
    load_state,
    remove_connections,
    save_state,
    write_connections,
)
from netimmutable.lab.topology import LabTopology

__all__ = ["sim_down", "sim_status", "sim_up"]


def _sim_dir(repo_root: Path) -> Path:
    return lab_dir(repo_root) / "sim"


def _established(sim_dir: Path, host: str) -> int:
    driver = SimDriver(host, "", "", optional_args={"lab_dir": str(sim_dir)})
    driver.open()
    try:
        peers = driver.get_bgp_neighbors().get("global", {}).get("peers", {})
    finally:
        driver.close()
    return sum(1 for p in peers.values() if p.get("is_up"))


def sim_up(repo_root: Path, topology: LabTopology, snapshots_dir: Path) -> LabStatus:
    t0 = time.monotonic()
    configs: dict[str, str] = {}
    for router in topology.routers:
        path = snapshots_dir / f"{router.name}.cfg"
        if not path.is_file():
            raise LabError(
                f"no snapshot for {router.name}: {path} is missing",
                host=router.name,
                hint=f"run `netimmutable render --repo {repo_root}` first",
            )
        configs[router.name] = path.read_text(encoding="utf-8")
    if load_state(repo_root) is not None:
        from netimmutable.lab.api import lab_down

        lab_down(repo_root)
    lab = SimLab(_sim_dir(repo_root))
    state = LabState(kind="sim", repo_root=str(repo_root), extra={"lab_dir": str(lab.root)})
    save_state(repo_root, state)
    try:
        for router in topology.routers:
            lab.create(router.name, configs[router.name])
            state.routers[router.name] = {"mgmt_address": router.name, "bgp_peers": router.bgp_peers}
        state.connections_sha256 = write_connections(
            repo_root, {r.name: lab.connection_entry(r.name) for r in topology.routers}
        )
        save_state(repo_root, state)
        down = {
            r.name: (_established(lab.root, r.name), r.bgp_peers)
            for r in topology.routers
            if _established(lab.root, r.name) < r.bgp_peers
        }
        if down:
            detail = ", ".join(f"{n} {e}/{c}" for n, (e, c) in sorted(down.items()))
            raise LabError(f"BGP sessions of the simulated network are not all Established ({detail})")
    except BaseException:
        sim_down(repo_root)
        raise
    state.started_at = datetime.now(UTC).isoformat(timespec="seconds")
    state.up_seconds = round(time.monotonic() - t0, 2)
    save_state(repo_root, state)
    return sim_status(repo_root)


def sim_status(repo_root: Path) -> LabStatus:
    state = load_state(repo_root)
    if state is None or state.kind != "sim":
        return LabStatus(repo_root=repo_root, up=False)
    sim_dir = Path(str(state.extra.get("lab_dir", _sim_dir(repo_root))))
    present = set(SimLab(sim_dir).hosts()) if sim_dir.is_dir() else set()
    routers = tuple(
        LabRouterStatus(
            name=name,
            mgmt_address=str(info["mgmt_address"]),
            running=name in present,
            bgp_established=_established(sim_dir, name) if name in present else 0,
            bgp_configured=int(info["bgp_peers"]),
        )
        for name, info in state.routers.items()
    )
    conn = connections_path(repo_root)
    return LabStatus(
        repo_root=repo_root,
        up=bool(routers) and all(r.running for r in routers),
        kind="sim",
        routers=routers,
        connections_file=conn if conn.is_file() else None,
        started_at=state.started_at,
        up_seconds=state.up_seconds,
    )


def sim_down(repo_root: Path) -> None:
    state = load_state(repo_root)
    if state is None:
        return
    sim_dir = Path(str(state.extra.get("lab_dir", _sim_dir(repo_root))))
    SimLab(sim_dir).destroy()
    remove_connections(repo_root, state.connections_sha256)
    folder = lab_dir(repo_root)
    for leftover in ("state.json", "state.json.tmp"):
        (folder / leftover).unlink(missing_ok=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
