"""The lab's public API: ``lab_up``, ``lab_down``, ``lab_status`` for a network repository."""

from __future__ import annotations

from pathlib import Path

from netimmutable.errors import LabError
from netimmutable.inventory import load_inventory
from netimmutable.lab.model import LabStatus
from netimmutable.lab.state import load_state
from netimmutable.lab.topology import LabTopology, build_topology
from netimmutable.repo import open_repo

__all__ = ["lab_down", "lab_status", "lab_up", "load_topology"]

LAB_PLATFORMS = ("frr", "sim")


def load_topology(repo_root: Path) -> tuple[LabTopology, Path]:
    """The lab network of the repository's inventory (frr and sim hosts) and its snapshots folder."""
    repo = open_repo(repo_root)
    loaded = load_inventory(repo)
    hosts = [
        (h.name, h.hostname, dict(h.items())) for h in loaded.hosts() if (h.platform or "") in LAB_PLATFORMS
    ]
    if not hosts:
        raise LabError(
            f"the inventory of {repo.root} has no host of platform frr: nothing to build",
            file=repo.relative(repo.inventory_dir / "hosts.yaml"),
        )
    return build_topology(hosts), repo.snapshots_dir


def lab_up(repo_root: Path, *, sim: bool = False) -> LabStatus:
    """Build the example network of ``repo_root`` and wait until every BGP session is Established.

    Real FRR routers in network namespaces (root and the Debian packages needed), or, with ``sim``,
    simulated devices (no privileges). Writes ``<repo>/.netimmutable/connections.yaml``.
    """
    root = repo_root.resolve()
    topology, snapshots = load_topology(root)
    if sim:
        from netimmutable.lab.sim_lab import sim_up

        return sim_up(root, topology, snapshots)
    from netimmutable.lab.frr_lab import frr_up

    return frr_up(root, topology, snapshots)


def lab_down(repo_root: Path) -> None:
    """Remove every namespace, process and file the lab of ``repo_root`` created. Idempotent."""
    root = repo_root.resolve()
    state = load_state(root)
    if state is None:
        return
    if state.kind == "sim":
        from netimmutable.lab.sim_lab import sim_down

        sim_down(root)
        return
    from netimmutable.lab.frr_lab import frr_down

    frr_down(root)


def lab_status(repo_root: Path) -> LabStatus:
    root = repo_root.resolve()
    state = load_state(root)
    if state is None:
        return LabStatus(repo_root=root, up=False)
    if state.kind == "sim":
        from netimmutable.lab.sim_lab import sim_status

        return sim_status(root)
    from netimmutable.lab.frr_lab import frr_status

    return frr_status(root)
