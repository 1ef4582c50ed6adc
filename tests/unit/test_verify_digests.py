"""What verify keeps between runs: digests of normalized artifacts (``verify_digests``) and the parsed
connections file. Both only save work: every verdict, diff and error must be what a cold run gives."""

from __future__ import annotations

import doctest
import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from netimmutable import verify as verify_module
from netimmutable import verify_digests
from netimmutable.connections import prepare_hosts
from netimmutable.errors import InventoryError
from netimmutable.inventory import load_inventory
from netimmutable.verify_digests import ENTRY, ArtifactDigests, known_digest
from tests.unit.verify_sim import SimNet, make_sim_net


@pytest.fixture
def net(tmp_path: Path) -> SimNet:
    return make_sim_net(tmp_path / "net")


@pytest.fixture
def normalized(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The configs verify normalizes (in this process: four hosts stay in one process)."""
    seen: list[str] = []
    real: Callable[..., str] = verify_module.normalize

    def counting(config: str, *args: Any, **kwargs: Any) -> str:
        seen.append(config)
        return real(config, *args, **kwargs)

    monkeypatch.setattr(verify_module, "normalize", counting)
    return seen


def _by_host(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    drop = {"checked_utc", "duration_s"}
    return {h["host"]: {k: v for k, v in h.items() if k not in drop} for h in report["hosts"]}


def test_doctests() -> None:
    assert doctest.testmod(verify_digests).failed == 0


def test_a_second_verify_reports_the_same_without_normalizing_again(
    net: SimNet, normalized: list[str]
) -> None:
    code, first = net.verify_json("--no-expectations")
    assert code == 0
    assert len(normalized) == 4  # each artifact once (the devices run them byte for byte)
    entries = json.loads((net.root / ".netimmutable" / "cache" / ENTRY).read_text())["entries"]
    assert sorted(entries.values()) == sorted(h["expected_digest"] for h in first["hosts"])
    normalized.clear()
    code, second = net.verify_json("--no-expectations")
    assert code == 0
    assert normalized == []
    assert _by_host(second) == _by_host(first)


def test_drift_is_found_whatever_the_cache_says(net: SimNet, normalized: list[str]) -> None:
    net.verify_json("--no-expectations")
    cache = net.root / ".netimmutable" / "cache" / ENTRY
    data = json.loads(cache.read_text())
    data["entries"] = dict.fromkeys(data["entries"], "sha256:" + "0" * 64)  # every entry wrong
    cache.write_text(json.dumps(data))
    net.lab.edit("r2", add=["ip route 10.9.0.0/24 blackhole"])
    code, report = net.verify_json("--no-expectations")
    assert code == 3
    r2 = _by_host(report)["r2"]
    assert r2["state"] == "drift"
    assert "+ip route 10.9.0.0/24 blackhole" in r2["diff"]
    assert r2["expected_digest"] != "sha256:" + "0" * 64  # computed, since the device differs
    assert {h for h, item in _by_host(report).items() if item["state"] == "in-sync"} == {"r1", "r3", "r4"}


def test_changed_ignore_lines_or_rules_miss(net: SimNet, monkeypatch: pytest.MonkeyPatch) -> None:
    config = net.snapshot("r1")
    digests = ArtifactDigests({}, "rules")
    digests.add(config, "frr", (), "sha256:x")
    assert digests.get(config, "frr", ()) == "sha256:x"
    assert digests.get(config, "frr", ("^snmp",)) is None
    assert digests.get(config, "eos", ()) is None
    assert digests.get(config + "!\n", "frr", ()) is None
    digests.save(net.repo.local_dir)
    monkeypatch.setattr(verify_digests, "_rules", lambda: "rules")
    assert ArtifactDigests.load(net.repo.local_dir).get(config, "frr", ()) == "sha256:x"
    monkeypatch.setattr(verify_digests, "_rules", lambda: "other rules")  # normalize.py changed
    assert ArtifactDigests.load(net.repo.local_dir).get(config, "frr", ()) is None


def test_a_cluster_task_carries_only_its_artifacts_digest() -> None:
    digests = ArtifactDigests({}, "rules")
    digests.add("hostname r1\n", "frr", (), "sha256:1")
    digests.add("hostname r2\n", "frr", (), "sha256:2")
    assert digests.only("hostname r3\n", "frr", ()) is None
    shipped = pickle.loads(pickle.dumps(digests.only("hostname r1\n", "frr", ())))  # noqa: S301 - as Dask
    assert shipped.get("hostname r1\n", "frr", ()) == "sha256:1"
    assert shipped.get("hostname r2\n", "frr", ()) is None


def test_no_cache_setting_writes_nothing(net: SimNet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETIMMUTABLE_NO_CACHE", "1")
    code, _ = net.verify_json("--no-expectations")
    assert code == 0
    assert not (net.root / ".netimmutable" / "cache" / ENTRY).exists()


def test_secrets_never_use_the_cache() -> None:
    digests = ArtifactDigests({}, "r")
    digests.add("hostname r1\n", "frr", (), "sha256:x")
    text = "hostname r1\n"
    assert known_digest(digests, {"bgp": "s3cret"}, text, text, "frr", ()) is None
    assert known_digest(digests, {}, text, text, "frr", ()) == "sha256:x"
    assert known_digest(digests, {}, text, "hostname r2\n", "frr", ()) is None


# ------------------------------------------------------------------------------------- connections file


def test_connections_file_changes_are_seen_and_errors_keep_their_line(net: SimNet) -> None:
    repo = net.repo
    hosts = list(load_inventory(repo).hosts())
    prepare_hosts(repo, hosts)  # parses and caches
    assert (repo.local_dir / "cache" / "connections.json").exists()
    prepare_hosts(repo, hosts)  # from the cache: the same parameters
    assert hosts[0].get_connection_parameters("napalm").extras["optional_args"] == {
        "lab_dir": str(net.lab.root)
    }
    path = repo.connections_file
    data = yaml.safe_load(path.read_text())
    data["hosts"]["r1"]["optional_args"] = {"server": "127.0.0.1:7001"}
    path.write_text(yaml.safe_dump(data))
    hosts = list(load_inventory(repo).hosts())  # fresh hosts: prepare_hosts adds to what a host has
    prepare_hosts(repo, hosts)
    r1 = next(h for h in hosts if h.name == "r1")
    assert r1.get_connection_parameters("napalm").extras["optional_args"] == {"server": "127.0.0.1:7001"}
    text = path.read_text().replace("    driver: sim\n", "    driver: sim\n    colour: blue\n", 1)
    path.write_text(text)
    with pytest.raises(InventoryError) as caught:
        prepare_hosts(repo, hosts)
    assert "unknown key(s) colour" in caught.value.message
    assert caught.value.line is not None
