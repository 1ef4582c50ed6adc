"""NAPALM's real ``nxos`` driver (NX-API over HTTP, netmiko SCP) against the NX-OS device double.

What they pin down about the driver (napalm/nxos/nxos.py, napalm 5.2.0):

* ``load_replace_candidate`` copies the file to ``bootflash:`` by SCP over SSH (needs ``feature
  scp-server``); the SSH port has to come from netmiko's ``ssh_config_file`` because the driver forces port
  22 whenever ``port`` (the NX-API port) is set.
* ``commit_config`` checkpoints ``rollback_config.txt``, runs ``rollback running-config file
  candidate_config.txt`` (atomic) and ``copy run startup-config``; a refused rollback surfaces as
  ``NXAPICommandError`` (not ``ReplaceConfigException``).
* no commit confirm: ``revert_in`` and ``message`` raise ``NotImplementedError``; ``has_pending_commit`` and
  ``confirm_commit`` are not implemented either (NotImplementedError).
* ``rollback()`` rolls back to ``rollback_config.txt``, the checkpoint of the last commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import napalm
import pytest
from napalm.base import models
from napalm.base.exceptions import ConnectionException, ReplaceConfigException
from napalm.nxapi_plumbing.errors import NXAPICommandError

from tests.contract import check_typeddict
from tests.doubles import nxos_config as nx
from tests.doubles.base import DeviceDouble
from tests.doubles.nxos import NxosDouble, default_baseline, start_nxos

NEW_ROUTE = "ip route 10.254.254.0/24 Null0"
PEER = "10.0.12.2"


@pytest.fixture
def dev() -> Iterator[NxosDouble]:
    with start_nxos(peers={PEER: 65002}) as double:
        yield double


def driver(d: NxosDouble, password: str | None = None) -> Any:
    drv = napalm.get_network_driver("nxos")(
        d.hostname, d.username, password or d.password, optional_args=dict(d.optional_args)
    )
    drv.open()
    return drv


def body(text: str) -> list[str]:
    return nx.body_of(text)


def candidate_of(d: NxosDouble, extra: str = "") -> str:
    return "\n".join(body(d.baseline)) + "\n" + (f"{extra}\n" if extra else "")


def test_the_double_offers_the_device_double_interface(dev: NxosDouble) -> None:
    double: DeviceDouble = dev
    assert double.platform == "nxos" and double.name == "r1"
    assert set(double.optional_args) == {"transport", "port", "ssh_config_file"}
    assert body(double.running()) == body(double.baseline)
    assert not double.has_pending()


def test_getters_match_napalm_models_and_follow_the_config(dev: NxosDouble) -> None:
    drv = driver(dev)
    try:
        facts = drv.get_facts()
        check_typeddict(facts, models.FactsDict, "get_facts")
        assert facts["hostname"] == "r1" and facts["os_version"] == "9.3(8)"
        assert facts["interface_list"] == ["Ethernet1/1", "Ethernet1/2"]
        for name, iface in drv.get_interfaces().items():
            check_typeddict(iface, models.InterfaceDict, f"get_interfaces[{name}]")
            assert iface["is_up"] and iface["is_enabled"]
        bgp = drv.get_bgp_neighbors()
        check_typeddict(bgp["global"], models.BGPStateNeighborsPerVRFDict, "get_bgp_neighbors[global]")
        assert bgp["global"]["peers"][PEER]["is_up"] is True
        drv.load_replace_candidate(config=candidate_of(dev).replace("remote-as 65002", "remote-as 65003"))
        drv.commit_config()
        peer = drv.get_bgp_neighbors()["global"]["peers"][PEER]
        assert (peer["remote_as"], peer["is_up"]) == (65003, False)
    finally:
        drv.close()


def test_get_config_drops_command_and_time_but_keeps_last_done_at(dev: NxosDouble) -> None:
    drv = driver(dev)
    try:
        text = drv.get_config(retrieve="running")["running"]
    finally:
        drv.close()
    assert "!Command:" not in text and "!Time:" not in text
    assert text.splitlines()[0].startswith("!Running configuration last done at: ")  # volatile
    assert body(text) == body(dev.running())


def test_load_compare_discard_leaves_running_untouched(dev: NxosDouble) -> None:
    before = body(dev.running())
    drv = driver(dev)
    try:
        drv.load_replace_candidate(
            config=candidate_of(dev, NEW_ROUTE).replace("ip domain-name lab.example\n", "")
        )
        assert NEW_ROUTE.encode() in dev.bootflash["candidate_config.txt"]
        diff = drv.compare_config().splitlines()
        assert NEW_ROUTE in diff and "no ip domain-name lab.example" in diff
        drv.discard_config()
        assert "candidate_config.txt" not in dev.bootflash
        assert drv.compare_config() == ""
    finally:
        drv.close()
    assert body(dev.running()) == before


def test_commit_is_a_full_replacement_and_rollback_undoes_it(dev: NxosDouble) -> None:
    before = body(dev.running())
    new = candidate_of(dev, NEW_ROUTE).replace("ip domain-name lab.example\n", "")
    drv = driver(dev)
    try:
        drv.load_replace_candidate(config=new)
        drv.commit_config()
        running = body(dev.running())
        assert NEW_ROUTE in running and "ip domain-name lab.example" not in running
        assert dev.startup == running  # copy run startup-config
        assert "api: cli: rollback running-config file candidate_config.txt" in dev.log
        drv.rollback()
    finally:
        drv.close()
    assert body(dev.running()) == before and dev.startup == before


def test_rollback_without_a_commit_has_no_file(dev: NxosDouble) -> None:
    drv = driver(dev)
    try:
        with pytest.raises(ReplaceConfigException, match="does not exist"):
            drv.rollback()
    finally:
        drv.close()


def test_invalid_line_is_refused_atomically(dev: NxosDouble) -> None:
    before = body(dev.running())
    drv = driver(dev)
    try:
        drv.load_replace_candidate(config=candidate_of(dev, "frobnicate all the widgets 42"))
        with pytest.raises(NXAPICommandError, match="Rollback failed"):
            drv.commit_config()
    finally:
        drv.close()
    assert body(dev.running()) == before


@pytest.mark.parametrize("commit", [{"revert_in": 60}, {"message": "x"}])
def test_revert_in_and_message_are_not_implemented(dev: NxosDouble, commit: dict[str, Any]) -> None:
    before = body(dev.running())
    drv = driver(dev)
    try:
        drv.load_replace_candidate(config=candidate_of(dev, NEW_ROUTE))
        with pytest.raises(NotImplementedError):
            drv.commit_config(**commit)
        with pytest.raises(NotImplementedError):
            drv.has_pending_commit()
        with pytest.raises(NotImplementedError):
            drv.confirm_commit()
    finally:
        drv.close()
    assert body(dev.running()) == before and "rollback_config.txt" not in dev.bootflash


def test_wrong_password_is_a_connection_error(dev: NxosDouble) -> None:
    with pytest.raises(ConnectionException):
        driver(dev, password="not-" + dev.password)


def test_load_needs_the_scp_server_feature() -> None:
    with start_nxos(baseline=default_baseline().replace("feature scp-server\n", "")) as d:
        drv = driver(d)
        try:
            with pytest.raises(ReplaceConfigException, match="Could not transfer file"):
                drv.load_replace_candidate(config=candidate_of(d, NEW_ROUTE))
        finally:
            drv.close()
        assert "candidate_config.txt" not in d.bootflash
