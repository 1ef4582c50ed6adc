"""BGP sessions of a simulated device, derived from its config and its peers' configs in the same lab.

A session is Established only when the neighbour address is an enabled interface address of another device
of the lab (found through the lab's address index, never by scanning), that device runs ``router bgp`` with
the AS our neighbour statement expects, and has a neighbour statement pointing back at one of our enabled
addresses with our AS; neither end ``shutdown``. Received prefixes are the ``network`` statements the peer
announces in that address family.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

from napalm.base import models

from netimmutable.drivers.sim.parse import BgpInstance, BgpNeighbor, Model, model_of
from netimmutable.drivers.sim.state import DeviceState, LabStore, NoSuchDevice

__all__ = ["Session", "bgp_neighbors", "bgp_neighbors_detail", "router_id", "sessions"]

NO_ROUTER_ID = "0.0.0.0"  # noqa: S104 - FRR's "unknown router id", not a bind address


@dataclass(frozen=True, slots=True)
class Session:
    vrf: str
    local: BgpInstance
    neighbor: BgpNeighbor
    up: bool
    remote_as: int
    remote_id: str
    local_address: str
    received: int
    sent: int
    uptime: int  # seconds; -1 when down
    state: str  # Established | Active | Idle (Admin)

    @property
    def family(self) -> str:
        return "ipv6" if ipaddress.ip_address(self.neighbor.address).version == 6 else "ipv4"


def _as_matches(expected: str, actual: int, own: int) -> bool:
    """Does ``actual`` satisfy a ``remote-as`` value ``expected`` configured on a router of AS ``own``?"""
    if expected == "internal":
        return actual == own
    if expected == "external":
        return actual != own
    return expected.isdigit() and int(expected) == actual


def router_id(inst: BgpInstance | None, model: Model) -> str:
    """Configured ``bgp router-id``, else the highest IPv4 interface address (as FRR picks), else 0.0.0.0."""
    if inst is not None and inst.router_id:
        return inst.router_id
    v4 = [ipaddress.IPv4Address(ip) for i in model.interfaces for ip, _ in i.ipv4]
    return str(max(v4)) if v4 else NO_ROUTER_ID


def _enabled_addresses(model: Model) -> set[str]:
    return {ip for i in model.interfaces if i.enabled for ip, _ in (*i.ipv4, *i.ipv6)}


def _session(
    lab: LabStore, host: str, state: DeviceState, model: Model, inst: BgpInstance, nb: BgpNeighbor, now: float
) -> Session:
    family = 4 if ipaddress.ip_address(nb.address).version == 4 else 6
    remote_as = (
        int(nb.remote_as) if nb.remote_as.isdigit() else (inst.asn if nb.remote_as == "internal" else 0)
    )
    down = Session(
        vrf=inst.vrf,
        local=inst,
        neighbor=nb,
        up=False,
        remote_as=remote_as,
        remote_id=NO_ROUTER_ID,
        local_address="",
        received=0,
        sent=0,
        uptime=-1,
        state="Idle (Admin)" if nb.shutdown else "Active",
    )
    mine = _enabled_addresses(model)
    if nb.shutdown or not mine:
        return down
    for peer_host in lab.lookup(nb.address):
        if peer_host == host:
            continue
        try:
            peer_state = lab.device(peer_host).load()
        except NoSuchDevice:
            continue
        peer = model_of(peer_state.running)
        if nb.address not in _enabled_addresses(peer):
            continue
        for pinst in peer.bgp:
            if not _as_matches(nb.remote_as, pinst.asn, inst.asn):
                continue
            for back in pinst.neighbors:
                if (
                    back.address in mine
                    and not back.shutdown
                    and _as_matches(back.remote_as, inst.asn, pinst.asn)
                ):
                    since = max(state.changed_at, peer_state.changed_at)
                    return Session(
                        vrf=inst.vrf,
                        local=inst,
                        neighbor=nb,
                        up=True,
                        remote_as=pinst.asn,
                        remote_id=router_id(pinst, peer),
                        local_address=back.address,
                        received=pinst.networks_v4 if family == 4 else pinst.networks_v6,
                        sent=inst.networks_v4 if family == 4 else inst.networks_v6,
                        uptime=max(0, int(now - since)),
                        state="Established",
                    )
    return down


def sessions(lab: LabStore, host: str, state: DeviceState) -> list[Session]:
    """Every configured BGP neighbour (keyed by address) of ``host`` with its simulated session state."""
    lab.expire_due()
    model = model_of(state.running)
    now = time.time()
    return [_session(lab, host, state, model, inst, nb, now) for inst in model.bgp for nb in inst.neighbors]


def bgp_neighbors(
    lab: LabStore, host: str, state: DeviceState
) -> dict[str, models.BGPStateNeighborsPerVRFDict]:
    model = model_of(state.running)
    out: dict[str, models.BGPStateNeighborsPerVRFDict] = {}
    for inst in model.bgp:
        out.setdefault(inst.vrf, {"router_id": router_id(inst, model), "peers": {}})
    for s in sessions(lab, host, state):
        out[s.vrf]["peers"][s.neighbor.address] = {
            "local_as": s.local.asn,
            "remote_as": s.remote_as,
            "remote_id": s.remote_id,
            "is_up": s.up,
            "is_enabled": not s.neighbor.shutdown,
            "description": s.neighbor.description,
            "uptime": s.uptime,
            "address_family": {
                s.family: {
                    "received_prefixes": s.received,
                    "accepted_prefixes": s.received,
                    "sent_prefixes": s.sent,
                }
            },
        }
    return out


def bgp_neighbors_detail(
    lab: LabStore, host: str, state: DeviceState, neighbor_address: str = ""
) -> dict[str, dict[int, list[models.PeerDetailsDict]]]:
    model = model_of(state.running)
    out: dict[str, dict[int, list[models.PeerDetailsDict]]] = {}
    for s in sessions(lab, host, state):
        if neighbor_address and s.neighbor.address != neighbor_address:
            continue
        detail: models.PeerDetailsDict = {
            "up": s.up,
            "local_as": s.local.asn,
            "remote_as": s.remote_as,
            "router_id": router_id(s.local, model),
            "local_address": s.local_address,
            "routing_table": "default" if s.vrf == "global" else s.vrf,
            "local_address_configured": False,
            "local_port": 179 if s.up else 0,
            "remote_address": s.neighbor.address,
            "remote_port": 179 if s.up else 0,
            "multihop": False,
            "multipath": False,
            "remove_private_as": False,
            "import_policy": s.neighbor.import_policy,
            "export_policy": s.neighbor.export_policy,
            "input_messages": 0,
            "output_messages": 0,
            "input_updates": s.received,
            "output_updates": s.sent,
            "messages_queued_out": 0,
            "connection_state": s.state,
            "previous_connection_state": "OpenConfirm" if s.up else "Idle",
            "last_event": "RecvKeepAlive" if s.up else "Stop",
            "suppress_4byte_as": False,
            "local_as_prepend": False,
            "holdtime": s.neighbor.hold if s.up else 0,
            "configured_holdtime": s.neighbor.hold,
            "keepalive": s.neighbor.keepalive if s.up else 0,
            "configured_keepalive": s.neighbor.keepalive,
            "active_prefix_count": s.received,
            "received_prefix_count": s.received,
            "accepted_prefix_count": s.received,
            "suppressed_prefix_count": 0,
            "advertised_prefix_count": s.sent,
            "flap_count": 0,
        }
        out.setdefault(s.vrf, {}).setdefault(s.remote_as, []).append(detail)
    return out
