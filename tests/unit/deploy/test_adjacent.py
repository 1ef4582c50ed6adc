"""Topology-aware batches: neighbours that both change are not changed in the same batch (unless asked), and a
regression names the host changed alongside (issue 12 item 6). The example network is the ring
r1-r2-r3-r4-r1, one /30 and one eBGP session per link."""

from __future__ import annotations

import pytest

from netimmutable.deploy_model import Phase
from netimmutable.errors import InputError
from netimmutable.outcomes import HostOutcome
from tests.unit.deploy.conftest import Net


def _batches(net: Net) -> list[str]:
    return [
        e.message
        for e in net.events
        if e.host is None and e.phase is Phase.WINDOW and e.message.startswith(("canary", "batch"))
    ]


def test_changing_neighbours_never_share_a_batch(net: Net) -> None:
    release = net.change_all()

    report = net.deploy(canary="0", batch_size=4)

    assert report.exit_code == 0, [h.message for h in report.hosts]
    assert _batches(net) == ["batch 1: r1, r3", "batch 2: r2, r4"]
    for host in ("r1", "r2", "r3", "r4"):
        assert net.records().last_good(host).release == release  # type: ignore[union-attr]


def test_allow_adjacent_batches_by_size_and_is_recorded(net: Net) -> None:
    net.change_all()

    report = net.deploy(canary="0", batch_size=4, allow_adjacent=True)

    assert report.exit_code == 0
    assert _batches(net) == ["batch 1: r1, r2, r3, r4"]
    [run] = net.records().runs(limit=1)
    assert "--allow-adjacent" in run.flags


def test_a_named_canary_of_two_changing_neighbours_is_refused_before_any_change(net: Net) -> None:
    net.change_all()
    before = {h: net.lab.state(h).generation for h in ("r1", "r2")}

    with pytest.raises(InputError, match="r1-r2") as raised:
        net.deploy(canary="r1,r2", batch_size=4)

    assert "--allow-adjacent" in (raised.value.hint or "")
    assert {h: net.lab.state(h).generation for h in ("r1", "r2")} == before


def test_a_regression_names_the_far_end_changed_in_the_same_batch(net: Net) -> None:
    # r1: a harmless description; r4 (r1's neighbour): a wrong remote AS for r1, so the r1-r4 session drops.
    # Changed together (asked for), r1's regression on that session names r4 as the far end that changed
    net.edit_hosts("description: to r2, peer: r2", "description: to r2 link, peer: r2", host="r1")
    net.edit_hosts(r"(\{address: 10\.255\.14\.1, remote_as: )\d+", r"\g<1>65009", host="r4")
    net.commit("r1 description, r4 wrong AS for r1")

    # r4 answers slowly (0.15 s a call): it commits about a second after r1 has read its state, while r1's
    # checks hold for 3 s (the soak); its commit answers 1 s after it landed, so its wrong AS stays on past
    # r1's rollback. (Without the latency, r1 and r4 raced: r1 could commit after r4 had already rolled back.)
    net.lab.set_knobs("r4", latency=0.15, commit_latency=1.0)
    report = net.deploy(canary="0", batch_size=4, allow_adjacent=True, soak=3.0)

    r1, r4 = report.host("r1"), report.host("r4")
    assert r4 is not None and r4.outcome is HostOutcome.ROLLED_BACK, r4
    assert r1 is not None and r1.outcome is HostOutcome.ROLLED_BACK, r1
    blamed = [f for f in r1.failures if f.startswith("regression: BGP neighbour 10.255.14.2")]
    assert blamed and blamed[0].endswith("(its far end r4 changed in the same batch)"), r1.failures
    # r1's rollback is verified once r4 has ended, not failed while r4 was still broken
    assert r1.message.splitlines()[1].endswith("and verified"), r1.message
    assert any(n.endswith("verified again once they had ended: held") for n in r1.notes), r1.notes
    assert net.established("r1") >= {"10.255.14.2"}
    assert report.exit_code == 4


def test_without_allow_adjacent_the_same_change_fails_only_the_host_that_broke(net: Net) -> None:
    net.edit_hosts("description: to r2, peer: r2", "description: to r2 link, peer: r2", host="r1")
    net.edit_hosts(r"(\{address: 10\.255\.14\.1, remote_as: )\d+", r"\g<1>65009", host="r4")
    release = net.commit("r1 description, r4 wrong AS for r1")

    report = net.deploy(canary="0", batch_size=4, on_failure="continue")

    assert _batches(net) == ["batch 1: r1, r2, r3", "batch 2: r4"]  # r2, r3 do not change: anywhere
    r1, r4 = report.host("r1"), report.host("r4")
    assert r1 is not None and r1.outcome is HostOutcome.DEPLOYED, r1
    assert net.records().last_good("r1").release == release  # type: ignore[union-attr]
    assert r4 is not None and r4.outcome is HostOutcome.ROLLED_BACK, r4
    assert report.exit_code == 4


def test_links_are_read_across_syntaxes_and_shared_lans_are_not_links() -> None:
    from netimmutable.topology import adjacency, peer_hosts

    xr = "interface Gi0/0/0/1\n ipv4 address 10.1.0.1 255.255.255.252\nrouter bgp 1\n neighbor 10.1.0.2"
    junos = "interfaces {\n ge-0/0/1 {\n  unit 0 {\n   family inet {\n    address 10.1.0.2/30;\n"
    mgmt = {
        f"m{i}": f"interface mgmt0\n ip address 192.168.0.{i}/24\n ipv6 address fe80::1/64\n"
        for i in range(6)
    }
    assert adjacency({"xr": xr, "junos": junos})["xr"] == {"junos"}
    assert peer_hosts({"xr": xr, "junos": junos}) == {"xr": {"10.1.0.2": "junos"}}  # last line, no newline
    assert all(not near for near in adjacency(mgmt).values())  # one management LAN, six hosts: no links
