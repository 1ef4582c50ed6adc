"""The lab's public API: ``lab_up``, ``lab_down``, ``lab_status`` for a network repository."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from netimmutable.errors import LabError
from netimmutable.inventory import load_inventory
from netimmutable.journal import unfinished_runs
from netimmutable.lab.model import LabStatus
from netimmutable.lab.state import load_state
from netimmutable.lab.topology import LabTopology, build_topology
from netimmutable.locks import list_locks
from netimmutable.repo import open_repo

__all__ = ["lab_down", "lab_status", "lab_up", "load_topology", "refuse_while_in_flight"]

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


def refuse_while_in_flight(repo_root: Path) -> None:
    """Raise ``LabError`` when a run of the repository is in progress or unfinished, or holds a device lock:
    rebuilding the lab then would destroy the device state that run (or its `recover`) relies on."""
    repo = open_repo(repo_root)
    for run in unfinished_runs(repo, include_alive=True):
        how = "in progress" if run.alive else "unfinished"
        raise LabError(
            f"run {run.run_id} ({run.kind} by {run.user}, pid {run.pid}) is {how}: rebuilding the lab would "
            "replace the devices it is changing",
            hint="let it finish" if run.alive else "run `netimmutable recover` first",
        )
    held = [lock for lock in list_locks(repo) if not lock.stale]
    if held:
        names = ", ".join(lock.path.stem for lock in held)
        raise LabError(
            f"device locks are held ({names}): a run is using the lab",
            hint="let it finish, or see `netimmutable status` and `netimmutable unlock`",
        )


def lab_up(repo_root: Path, *, sim: bool = False, rebuild: bool = False) -> LabStatus:
    """Build the example network of ``repo_root`` and wait until every BGP session is Established.

    Real FRR routers in network namespaces (root and the Debian packages needed), or, with ``sim``,
    simulated devices (no privileges). Writes ``<repo>/.netimmutable/connections.yaml``.

    A lab of the same kind that is already up is left as it is (the status says ``already_up``); ``rebuild``
    removes it and builds it anew. Replacing a lab (rebuild, another kind, or what is left of a broken one)
    is refused while a run of the repository is in flight.
    """
    root = repo_root.resolve()
    topology, snapshots = load_topology(root)
    kind = "sim" if sim else "frr"
    state = load_state(root)
    if state is not None:
        current = lab_status(root)
        if current.up and state.kind == kind and not rebuild:
            return replace(current, already_up=True)
        if current.up and state.kind != kind and not rebuild:
            raise LabError(
                f"a {state.kind} lab is up for {root}; a {kind} lab would replace it",
                hint=f"`netimmutable lab up{' --sim' if sim else ''} --rebuild` replaces it",
            )
        refuse_while_in_flight(root)
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
