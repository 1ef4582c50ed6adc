"""``verify --cluster`` against real ``dask scheduler`` / ``dask worker`` processes on 127.0.0.1, with sim
devices (their state on disk, shared by the workers of this machine)."""

from __future__ import annotations

import json
import pickle
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from netimmutable.cluster import site_resource
from netimmutable.connections import prepare_hosts
from netimmutable.inventory import load_inventory
from netimmutable.verify import _Context
from netimmutable.verify_cluster import _payloads
from netimmutable.verify_report import report_schema
from tests.cluster_procs import DaskProcs, WorkerSpec, dask_cluster
from tests.unit.netrepo_helpers import commit_all
from tests.unit.verify_sim import SimNet, make_large_sim_net, make_sim_net

pytest.importorskip("distributed")

SITES = {"h0000": "lon1", "h0001": "lon1", "h0002": "par1", "h0003": "par1", "h0004": None, "h0005": "nyc1"}


@pytest.fixture(scope="module")
def two_sites() -> Iterator[DaskProcs]:
    workers = [
        WorkerSpec("w-lon", resources={site_resource("lon1"): 100}),
        WorkerSpec("w-par", resources={site_resource("par1"): 100}),
    ]
    with dask_cluster(workers) as procs:
        yield procs


def _sited_net(root: Path) -> SimNet:
    """Six sim devices, each with a `site` (one with none, one at a site no worker serves)."""
    net = make_large_sim_net(root, len(SITES))
    hosts = root / "inventory" / "hosts.yaml"
    text = hosts.read_text()
    for name, site in SITES.items():
        if site:
            text = text.replace(
                f"{name}:\n  platform: frr\n  data: {{", f"{name}:\n  platform: frr\n  data: {{site: {site}, "
            )
    hosts.write_text(text)
    (root / "netimmutable.yaml").write_text("cluster:\n  site_key: site\n  connect_timeout: 5\n")
    commit_all(root, "sites")
    return net


def _by_host(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {h["host"]: h for h in report["hosts"]}


def test_each_host_runs_on_its_site_s_worker_and_the_report_names_it(
    tmp_path: Path, two_sites: DaskProcs
) -> None:
    net = _sited_net(tmp_path / "net")
    net.lab.edit("h0001", add=["ip route 10.9.0.0/24 blackhole"])
    result = net.verify("--cluster", two_sites.address, "--format", "json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    jsonschema.validate(report, report_schema())
    hosts = _by_host(report)
    assert {h: v["worker"] for h, v in hosts.items() if SITES[h] in ("lon1", "par1")} == {
        "h0000": "w-lon",
        "h0001": "w-lon",
        "h0002": "w-par",
        "h0003": "w-par",
    }
    assert hosts["h0004"]["worker"] in {"w-lon", "w-par"}  # no site: any worker
    assert {h: v["state"] for h, v in hosts.items()} == {
        "h0000": "in-sync",
        "h0001": "drift",
        "h0002": "in-sync",
        "h0003": "in-sync",
        "h0004": "in-sync",
        "h0005": "error",
    }
    assert "+ip route 10.9.0.0/24 blackhole" in hosts["h0001"]["diff"]
    nyc = hosts["h0005"]
    assert nyc["worker"] is None
    assert "h0005" in nyc["message"] and "nyc1" in nyc["message"] and site_resource("nyc1") in nyc["message"]
    text = net.verify("--cluster", two_sites.address).stdout
    assert "[worker w-lon]" in next(line for line in text.splitlines() if line.startswith("h0001"))
    junit = ET.fromstring(net.verify("--cluster", two_sites.address, "--format", "junit").stdout)  # noqa: S314 - our own output
    case = next(c for c in junit.iter("testcase") if c.get("name") == "h0002")
    assert [(p.get("name"), p.get("value")) for p in case.iter("property")] == [("worker", "w-par")]
    # in process: no worker anywhere
    local = json.loads(net.verify("--format", "json", "--limit", "h0000").stdout)
    assert local["hosts"][0]["worker"] is None and local["hosts"][0]["state"] == "in-sync"
    assert "[worker" not in net.verify("--limit", "h0000").stdout


def test_the_cluster_address_comes_from_the_settings(tmp_path: Path, two_sites: DaskProcs) -> None:
    net = _sited_net(tmp_path / "net")
    settings = net.root / "netimmutable.yaml"
    settings.write_text(
        settings.read_text().replace("cluster:\n", f"cluster:\n  address: {two_sites.address}\n")
    )
    report = json.loads(net.verify("--format", "json", "--limit", "h0002").stdout)
    assert report["hosts"][0]["worker"] == "w-par" and report["hosts"][0]["state"] == "in-sync"


def test_config_secrets_stay_on_the_coordinator(
    tmp_path: Path, two_sites: DaskProcs, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = make_sim_net(tmp_path / "net")
    path = net.root / "snapshots" / "r1.cfg"
    path.write_text(
        path.read_text().replace(
            " neighbor 10.255.12.2 remote-as 65002\n",
            " neighbor 10.255.12.2 remote-as 65002\n neighbor 10.255.12.2 password <<secret:bgp/r1-r2>>\n",
        )
    )
    release = commit_all(net.root, "r1 with a BGP password")
    resolved = net.snapshot("r1").replace("<<secret:bgp/r1-r2>>", "Sup3r-s3cret")
    net.lab.set_running("r1", resolved)
    monkeypatch.setenv("NETIMMUTABLE_SECRET_BGP_R1_R2", "Sup3r-s3cret")  # here only: not in the workers
    code, report = net.verify_json("--against", release, "--cluster", two_sites.address)
    assert code == 0, report
    assert {h["host"]: h["state"] for h in report["hosts"]} == dict.fromkeys(
        ("r1", "r2", "r3", "r4"), "in-sync"
    )
    assert all(h["worker"] in {"w-lon", "w-par"} for h in report["hosts"])
    net.lab.set_running("r1", resolved.replace("Sup3r-s3cret", "0ther-value"))
    result = net.verify(
        "--against", release, "--limit", "r1", "--cluster", two_sites.address, "--format", "json"
    )
    assert result.exit_code == 3
    assert "Sup3r-s3cret" not in result.output and "0ther-value" not in result.output
    assert "+ neighbor 10.255.12.2 password <<masked>>" in json.loads(result.stdout)["hosts"][0]["diff"]


def test_task_payloads_hold_no_secret_value_for_text_compared_hosts(tmp_path: Path) -> None:
    """What would cross to the workers: text-compared hosts carry no value; a device-compared host only the
    values of its own artifact's secrets (the device must be given them)."""
    net = make_sim_net(tmp_path / "net")
    loaded = load_inventory(net.repo)
    hosts = loaded.hosts()
    prepare_hosts(net.repo, hosts)
    from netimmutable.verify import Baseline

    configs = {h.name: f"hostname {h.name}\n neighbor x password <<secret:{h.name}-pw>>\n" for h in hosts}
    baselines = {h.name: Baseline(h.name, "abc", "rev", configs[h.name]) for h in hosts}
    values = {f"{h.name}-pw": f"VALUE-OF-{h.name}" for h in hosts}
    ctx = _Context(
        (),
        values,
        True,
        compare={"sim": "device"},
    )
    text_ctx = _Context((), values, True)
    payloads, judged_here = _payloads(hosts, baselines, text_ctx)
    assert judged_here == {h.name for h in hosts}
    for payload in payloads.values():
        assert b"VALUE-OF-" not in pickle.dumps(payload)
    payloads, judged_here = _payloads(hosts, baselines, ctx)
    assert judged_here == set()
    for name, payload in payloads.items():
        blob = pickle.dumps(payload)
        assert f"VALUE-OF-{name}".encode() in blob
        assert blob.count(b"VALUE-OF-") == 1  # never another host's


def test_a_worker_killed_mid_verify_its_hosts_are_verified_on_another(tmp_path: Path) -> None:
    net = make_large_sim_net(tmp_path / "net", 8)
    for i in range(8):
        net.lab.set_knobs(f"h{i:04d}", latency=0.7)  # every device call takes 0.7 s: the kill lands mid-run
    net.lab.edit("h0003", add=["ip route 10.9.0.0/24 blackhole"])
    with dask_cluster([WorkerSpec("w-1", nthreads=2), WorkerSpec("w-2", nthreads=2)]) as procs:
        taken: list[str] = []

        def kill_w1_while_busy() -> None:
            from distributed import Client

            with Client(procs.address, timeout=10, set_as_default=False) as client:
                address = next(a for a, w in client.scheduler_info()["workers"].items() if w["name"] == "w-1")
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    keys = client.processing(workers=[address]).get(address, ())
                    if keys:
                        time.sleep(0.3)  # they have started (each takes two device calls)
                        taken.extend(str(k).rsplit("-", 1)[-1] for k in keys)
                        procs.kill("w-1")
                        return
                    time.sleep(0.05)

        killer = threading.Thread(target=kill_w1_while_busy, daemon=True)
        killer.start()
        result = net.verify("--cluster", procs.address, "--format", "json")
        killer.join(timeout=60)
        assert procs.workers["w-1"].poll() is not None, "w-1 was never killed"
    assert taken, "nothing ran on w-1"
    assert result.exit_code == 3, result.output
    hosts = _by_host(json.loads(result.stdout))
    assert sorted(hosts) == [f"h{i:04d}" for i in range(8)]
    assert {h: v["state"] for h, v in hosts.items()} == {
        f"h{i:04d}": ("drift" if i == 3 else "in-sync") for i in range(8)
    }
    for name in taken:  # the hosts w-1 had when it died were verified again, on w-2
        assert hosts[name]["worker"] == "w-2", hosts[name]
    assert {v["worker"] for v in hosts.values()} <= {"w-1", "w-2"}
