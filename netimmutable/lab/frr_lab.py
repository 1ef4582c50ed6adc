"""The real lab: one FRR router per inventory host, each in its own network, mount and UTS namespaces.

Layout (names use the project prefix ``ni-``)::

    root namespace  ni-mgmt0 10.255.200.254/24 --veth-- [ni-mgmt: bridge br0] --veth-- eth0 of each router
    ni-<host>       eth0 10.255.200.N/24 (sshd), data veths from the inventory, FRR via frrinit.sh

Each router runs in a private mount namespace with its own tmpfs ``/run``, its own ``/etc/frr`` and
``/var/log/frr`` (bind mounts of folders under ``<repo>/.netimmutable/lab/<host>/``), an empty tmpfs as root's
home (the lab host's dotfiles never run on a router) and its own hostname,
so vtysh, frr-reload.py and frrinit.sh work there with their default paths, exactly as on a real box.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from netimmutable.errors import LabError
from netimmutable.lab import keys
from netimmutable.lab.model import LabRouterStatus, LabStatus
from netimmutable.lab.netns import (
    Tracked,
    add_netns,
    alive,
    delete_netns,
    list_netns,
    netns_pids,
    nsenter,
    run,
    spawn_holder,
    stop_tracked,
    wait_pid_file,
)
from netimmutable.lab.state import (
    LabState,
    connections_path,
    lab_dir,
    load_state,
    remove_connections,
    save_state,
    write_connections,
)
from netimmutable.lab.topology import MGMT_GATEWAY, MGMT_NETWORK, LabTopology

__all__ = ["APT_LINE", "NS_PREFIX", "check_prerequisites", "frr_down", "frr_status", "frr_up"]

NS_PREFIX = "ni-"
MGMT_NS = f"{NS_PREFIX}mgmt"
ROOT_VETH = f"{NS_PREFIX}mgmt0"
APT_LINE = "apt-get install -y --no-install-recommends frr frr-pythontools openssh-server"
FRRINIT = "/usr/lib/frr/frrinit.sh"
REQUIRED_FILES = (
    FRRINIT,
    "/usr/lib/frr/frr-reload.py",
    "/usr/bin/vtysh",
    "/usr/sbin/sshd",
    "/etc/frr/daemons",
)
ROUTER_HOME = "/root"  # the SSH user is root (see docs/lab.md)
REQUIRED_TOOLS = ("ip", "unshare", "nsenter", "ssh-keygen")
BGP_WAIT_SECONDS = 90.0
START_WAIT_SECONDS = 20.0
"""How long a router's daemons (FRR's and sshd) may take to write their pid files; generous for a loaded
machine, where `frrinit.sh start` can return before every daemon has written its own."""
FRR_DAEMONS = ("watchfrr", "zebra", "staticd", "bgpd")
"""The daemons a lab router runs (zebra and staticd always; bgpd enabled by the lab), each with a pid file."""


def check_prerequisites() -> None:
    """Raise ``LabError`` with the install line unless this is root with the Debian packages present."""
    if os.geteuid() != 0:
        raise LabError(
            "the FRR lab needs root (it creates network namespaces)",
            hint=f"run as root after `{APT_LINE}`; or use `netimmutable lab up --sim` (no privileges)",
        )
    missing = [f for f in REQUIRED_FILES if not Path(f).exists()]
    missing += [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if missing:
        raise LabError(f"missing for the FRR lab: {', '.join(missing)}", hint=f"install them: `{APT_LINE}`")


def _ns(host: str) -> str:
    return f"{NS_PREFIX}{host}"


def _snapshot(repo_root: Path, snapshots_dir: Path, host: str) -> Path:
    path = snapshots_dir / f"{host}.cfg"
    if not path.is_file():
        raise LabError(
            f"no snapshot for {host}: {path} is missing",
            host=host,
            hint=f"run `netimmutable render --repo {repo_root}` first (the lab loads each router's snapshot)",
        )
    return path


def _check_free() -> None:
    if MGMT_NS in list_netns():
        owner = "unknown repository"
        out = run(["ip", "-o", "link", "show", ROOT_VETH], check=False)
        if "alias" in out:
            owner = out.split("alias", 1)[1].strip()
        raise LabError(
            f"a lab is already up (namespace {MGMT_NS} exists, owned by {owner})",
            hint=f"run `netimmutable lab down --repo {owner}` first",
        )
    clash = run(["ip", "-o", "addr", "show", "to", str(MGMT_NETWORK)], check=False).strip()
    if clash:
        raise LabError(f"the lab's management network {MGMT_NETWORK} is already used here: {clash}")


def _build_mgmt(state: LabState, repo_root: Path) -> None:
    state.namespaces[MGMT_NS] = add_netns(MGMT_NS)
    run(["ip", "-n", MGMT_NS, "link", "add", "br0", "type", "bridge"])
    run(["ip", "-n", MGMT_NS, "link", "set", "br0", "up"])
    run(["ip", "link", "add", ROOT_VETH, "type", "veth", "peer", "name", "uplink", "netns", MGMT_NS])
    run(["ip", "link", "set", ROOT_VETH, "alias", str(repo_root)[:250]])
    run(["ip", "-n", MGMT_NS, "link", "set", "uplink", "master", "br0", "up"])
    run(["ip", "addr", "add", f"{MGMT_GATEWAY}/{MGMT_NETWORK.prefixlen}", "dev", ROOT_VETH])
    run(["ip", "link", "set", ROOT_VETH, "up"])


def _build_router_netns(state: LabState, name: str, mgmt: str) -> None:
    ns = _ns(name)
    state.namespaces[ns] = add_netns(ns)
    run(
        [
            "ip",
            "link",
            "add",
            "eth0",
            "netns",
            ns,
            "type",
            "veth",
            "peer",
            "name",
            name[:15],
            "netns",
            MGMT_NS,
        ]
    )
    run(["ip", "-n", MGMT_NS, "link", "set", name[:15], "master", "br0", "up"])
    run(["ip", "-n", ns, "addr", "add", f"{mgmt}/{MGMT_NETWORK.prefixlen}", "dev", "eth0"])
    run(["ip", "-n", ns, "link", "set", "eth0", "up"])
    # a router forwards; FRR would otherwise show `no ip(v6) forwarding` in its running-config
    run(
        [
            "ip",
            "netns",
            "exec",
            ns,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.forwarding=1",
        ]
    )


def _build_links(topology: LabTopology) -> None:
    for link in topology.links:
        a, b = _ns(link.a), _ns(link.b)
        run(
            [
                "ip",
                "link",
                "add",
                link.a_ifname,
                "netns",
                a,
                "type",
                "veth",
                "peer",
                "name",
                link.b_ifname,
                "netns",
                b,
            ]
        )
        run(["ip", "-n", a, "link", "set", link.a_ifname, "up"])
        run(["ip", "-n", b, "link", "set", link.b_ifname, "up"])


def _prepare_etc(router_dir: Path, snapshot: Path) -> None:
    etc = router_dir / "etc-frr"
    etc.mkdir(parents=True, exist_ok=True)
    (router_dir / "log-frr").mkdir(exist_ok=True)
    daemons = Path("/etc/frr/daemons").read_text(encoding="utf-8").replace("bgpd=no", "bgpd=yes")
    (etc / "daemons").write_text(daemons, encoding="utf-8")
    (etc / "vtysh.conf").write_text("service integrated-vtysh-config\n", encoding="utf-8")
    shutil.copyfile(snapshot, etc / "frr.conf")
    for path in (etc, router_dir / "log-frr", *etc.iterdir()):
        shutil.chown(path, "frr", "frr")
        path.chmod(0o750 if path.is_dir() else 0o640)


def _start_router(state: LabState, repo_root: Path, name: str, mgmt: str, authorized: Path) -> None:
    ns = _ns(name)
    rdir = lab_dir(repo_root) / name
    inode = state.namespaces[ns]
    holder = spawn_holder(ns, rdir / "holder.log")
    state.track(Tracked(holder, inode, f"{name} namespace holder"))
    state.routers[name]["holder"] = holder
    for cmd in (
        ["hostname", name],
        ["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run"],
        # root's home on a router is its own, as on a real one: the lab host's dotfiles (a ~/.bashrc that
        # runs pyenv or prints text) would otherwise run on every SSH command and could garble its output
        ["mount", "-t", "tmpfs", "-o", "mode=0700", "tmpfs", ROUTER_HOME],
        ["mkdir", "-p", "/run/sshd", "/run/frr"],
        ["chown", "frr:frr", "/run/frr"],
        ["mount", "--bind", str(rdir / "etc-frr"), "/etc/frr"],
        ["mount", "--bind", str(rdir / "log-frr"), "/var/log/frr"],
    ):
        nsenter(holder, cmd)
    out = nsenter(holder, [FRRINIT, "start"], check=False, timeout=60)
    (rdir / "frrinit.log").write_text(out, encoding="utf-8")
    for pid, what in _frr_pids(holder, name, rdir / "frrinit.log"):
        state.track(Tracked(pid, inode, f"{name} {what}"))
    sshd_config = rdir / "sshd_config"
    sshd_config.write_text(
        keys.render_sshd_config(name, mgmt, keys.host_key(rdir, name), authorized), encoding="utf-8"
    )
    nsenter(holder, ["/usr/sbin/sshd", "-f", str(sshd_config), "-E", str(rdir / "sshd.log")])
    pid_file = Path(f"/proc/{holder}/root/run/sshd.pid")
    sshd = wait_pid_file(
        pid_file, what=f"sshd on {name}", timeout=START_WAIT_SECONDS, log=rdir / "sshd.log", host=name
    )
    state.track(Tracked(sshd, inode, f"{name} sshd"))


def _frr_pids(holder: int, name: str, log: Path) -> list[tuple[int, str]]:
    """The pids of the router's FRR daemons, each waited for until its pid file is complete."""
    run_frr = Path(f"/proc/{holder}/root/run/frr")
    found = []
    for daemon in FRR_DAEMONS:
        pid_file = run_frr / f"{daemon}.pid"
        what = f"FRR's {daemon} on {name}"
        pid = wait_pid_file(pid_file, what=what, timeout=START_WAIT_SECONDS, log=log, host=name)
        found.append((pid, daemon))
    return found


def bgp_established(holder: int) -> int:
    """How many BGP sessions of the router whose namespaces ``holder`` owns are Established."""
    out = nsenter(holder, ["vtysh", "-c", "show bgp vrf all summary json"], check=False, timeout=10)
    try:
        data = json.loads(out or "{}")
    except json.JSONDecodeError:
        return 0
    count = 0
    for vrf in data.values():
        if not isinstance(vrf, dict):
            continue
        for afi in vrf.values():
            if isinstance(afi, dict):
                peers = afi.get("peers", {})
                count += sum(1 for p in peers.values() if p.get("state") == "Established")
    return count


def _wait_ssh(address: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, 22), timeout=1.0):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise LabError(f"sshd on {address}:22 not reachable from the root namespace: {exc}") from exc
            time.sleep(0.05)


def _wait_bgp(state: LabState) -> None:
    deadline = time.monotonic() + BGP_WAIT_SECONDS
    while True:
        missing = {
            name: (bgp_established(int(r["holder"])), int(r["bgp_peers"]))
            for name, r in state.routers.items()
        }
        missing = {n: v for n, v in missing.items() if v[0] < v[1]}
        if not missing:
            return
        if time.monotonic() > deadline:
            detail = ", ".join(f"{n} {e}/{c}" for n, (e, c) in sorted(missing.items()))
            raise LabError(
                f"BGP did not converge within {BGP_WAIT_SECONDS:.0f} s (Established/configured: {detail})",
                hint="check the snapshots (`vtysh -c 'show bgp summary'` inside the router: "
                "`nsenter -t $(pid) -n -m -u vtysh`)",
            )
        time.sleep(0.25)


def frr_up(repo_root: Path, topology: LabTopology, snapshots_dir: Path) -> LabStatus:
    check_prerequisites()
    t0 = time.monotonic()
    snapshots = {r.name: _snapshot(repo_root, snapshots_dir, r.name) for r in topology.routers}
    leftover = load_state(repo_root)
    if leftover is not None:
        frr_down(repo_root)
    _check_free()
    folder = lab_dir(repo_root)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    state = LabState(kind="frr", repo_root=str(repo_root))
    try:
        _build(state, repo_root, topology, snapshots)
        _wait_bgp(state)
    except BaseException:
        save_state(repo_root, state)
        frr_down(repo_root)
        raise
    state.started_at = datetime.now(UTC).isoformat(timespec="seconds")
    state.up_seconds = round(time.monotonic() - t0, 2)
    save_state(repo_root, state)
    return frr_status(repo_root)


def _build(state: LabState, repo_root: Path, topology: LabTopology, snapshots: dict[str, Path]) -> None:
    folder = lab_dir(repo_root)
    save_state(repo_root, state)
    client = keys.client_key(folder)
    _build_mgmt(state, repo_root)
    save_state(repo_root, state)
    for router in topology.routers:
        state.routers[router.name] = {
            "namespace": _ns(router.name),
            "mgmt_address": router.mgmt_address,
            "bgp_peers": router.bgp_peers,
        }
        _build_router_netns(state, router.name, router.mgmt_address)
        _prepare_etc(folder / router.name, snapshots[router.name])
        save_state(repo_root, state)
    _build_links(topology)
    with ThreadPoolExecutor(max_workers=max(1, len(topology.routers))) as pool:
        futures = [
            pool.submit(_start_router, state, repo_root, r.name, r.mgmt_address, folder / "authorized_keys")
            for r in topology.routers
        ]
        errors = [f.exception() for f in futures]
    save_state(repo_root, state)
    for error in errors:
        if error is not None:
            raise error
    known_hosts = folder / "known_hosts"
    keys.write_known_hosts(
        known_hosts, {r.mgmt_address: folder / r.name / "ssh_host_ed25519_key" for r in topology.routers}
    )
    for router in topology.routers:
        _wait_ssh(router.mgmt_address, 10.0)
    state.connections_sha256 = write_connections(
        repo_root,
        {
            r.name: {
                "hostname": r.mgmt_address,
                "port": 22,
                "username": "root",
                "driver": "frr",
                "optional_args": {"key_file": str(client), "known_hosts": str(known_hosts)},
            }
            for r in topology.routers
        },
    )
    save_state(repo_root, state)


def frr_status(repo_root: Path) -> LabStatus:
    state = load_state(repo_root)
    if state is None or state.kind != "frr":
        return LabStatus(repo_root=repo_root, up=False)
    routers = []
    for name, info in state.routers.items():
        holder = info.get("holder")
        ns = str(info["namespace"])
        inode = state.namespaces.get(ns)
        running = bool(holder and inode and alive(Tracked(int(holder), inode, "holder")))
        established = bgp_established(int(holder)) if running and holder else 0
        routers.append(
            LabRouterStatus(
                name=name,
                mgmt_address=str(info["mgmt_address"]),
                running=running,
                bgp_established=established,
                bgp_configured=int(info["bgp_peers"]),
                namespace=ns,
            )
        )
    conn = connections_path(repo_root)
    return LabStatus(
        repo_root=repo_root,
        up=bool(routers) and all(r.running for r in routers),
        kind="frr",
        routers=tuple(routers),
        connections_file=conn if conn.is_file() else None,
        started_at=state.started_at,
        up_seconds=state.up_seconds,
    )


def frr_down(repo_root: Path) -> None:
    """Stop every process and delete every namespace and file the lab created. Idempotent."""
    state = load_state(repo_root)
    if state is None:
        return
    if os.geteuid() != 0:
        raise LabError("removing the FRR lab needs root", hint="run `netimmutable lab down` as root")
    # SIGTERM to watchfrr and the daemons at once: ~0.1 s, where `frrinit.sh stop` takes ~6 s per router
    victims = list(state.processes)
    for ns, inode in state.namespaces.items():
        if ns in list_netns():
            # anything else still in a lab namespace was started through the lab (e.g. a revert timer)
            victims += [Tracked(pid, inode, f"process in {ns}") for pid in netns_pids(ns)]
    stop_tracked(victims)
    if MGMT_NS in state.namespaces and ROOT_VETH in run(["ip", "-o", "link", "show"], check=False):
        run(["ip", "link", "del", ROOT_VETH], check=False)
    for ns in reversed(list(state.namespaces)):
        delete_netns(ns)
    remove_connections(repo_root, state.connections_sha256)
    shutil.rmtree(lab_dir(repo_root), ignore_errors=False)
