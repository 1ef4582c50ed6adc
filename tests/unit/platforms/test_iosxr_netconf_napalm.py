"""NAPALM's real ``iosxr_netconf`` driver (ncclient, default ``config_encoding="cli"``) against the IOS-XR
NETCONF double.

Every test drives ``napalm.get_network_driver("iosxr_netconf")`` unpatched, through its documented
optional_args only, and checks the device afterwards out of band (through the double).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import napalm
import pytest
from napalm.base import models
from napalm.base.exceptions import MergeConfigException, ReplaceConfigException
from ncclient import manager
from ncclient.operations.rpc import RPCError

from tests.contract import check_typeddict
from tests.doubles import iosxr_conf
from tests.doubles.base import DeviceDouble
from tests.doubles.iosxr_netconf import IosxrNetconfDouble, start_iosxr_netconf, strip_header

CLI_NS = "http://cisco.com/ns/yang/Cisco-IOS-XR-cli-cfg"
EDITS = {"hostname r1\n": "hostname r1-new\n", "192.0.2.1 255": "192.0.2.9 255"}


@pytest.fixture
def dev() -> Iterator[IosxrNetconfDouble]:
    with start_iosxr_netconf() as double:
        yield double


def open_driver(dev: IosxrNetconfDouble, **extra: Any) -> Any:
    driver = napalm.get_network_driver("iosxr_netconf")(
        dev.hostname, dev.username, dev.password, optional_args={**dev.optional_args, **extra}
    )
    driver.open()
    return driver


@pytest.fixture
def drv(dev: IosxrNetconfDouble) -> Iterator[Any]:
    driver = open_driver(dev)
    yield driver
    driver.close()


def edited(text: str) -> str:
    for old, new in EDITS.items():
        assert old in text
        text = text.replace(old, new)
    return text


def without_gi1(text: str) -> str:
    lines = [line for line in iosxr_conf.parse(text) if line.text != "interface GigabitEthernet0/0/0/1"]
    return iosxr_conf.render(lines)


def body(dev: IosxrNetconfDouble) -> str:
    return strip_header(dev.running())


def clean(dev: IosxrNetconfDouble) -> None:
    assert not dev.has_pending()
    assert not dev.locked()


# ----------------------------------------------------------------------------------- 1. open and getters


def test_open_close_and_getters(dev: IosxrNetconfDouble) -> None:
    driver = open_driver(dev)
    assert driver.is_alive() == {"is_alive": True}
    facts = driver.get_facts()
    check_typeddict(facts, models.FactsDict, "get_facts")
    assert facts["hostname"] == "r1" and facts["vendor"] == "Cisco"
    assert facts["model"] == "R-IOSXRV9000-CC" and facts["os_version"] == "7.3.2"
    assert facts["interface_list"] == ["GigabitEthernet0/0/0/0", "GigabitEthernet0/0/0/1"]
    interfaces = driver.get_interfaces()
    for name, data in interfaces.items():
        check_typeddict(data, models.InterfaceDict, f"get_interfaces[{name}]")
    assert interfaces["GigabitEthernet0/0/0/0"]["description"] == "to r2"
    assert (
        interfaces["GigabitEthernet0/0/0/0"]["is_up"]
        and interfaces["GigabitEthernet0/0/0/0"]["speed"] == 1000.0
    )
    assert dev.server.sessions[-1].base11  # XR speaks base:1.1: chunked framing
    driver.close()


def test_bgp_neighbour_up_then_down_after_remote_as_change(drv: Any, dev: IosxrNetconfDouble) -> None:
    bgp = drv.get_bgp_neighbors()
    check_typeddict(bgp["global"], models.BGPStateNeighborsPerVRFDict, "get_bgp_neighbors[global]")
    assert bgp["global"]["router_id"] == "10.0.0.1"
    peer = bgp["global"]["peers"]["10.0.0.2"]
    assert peer["is_up"] and peer["remote_as"] == 65002 and peer["local_as"] == 65001
    drv.load_replace_candidate(config=dev.baseline.replace("remote-as 65002", "remote-as 65003"))
    drv.commit_config()
    peer = drv.get_bgp_neighbors()["global"]["peers"]["10.0.0.2"]
    assert not peer["is_up"] and peer["remote_as"] == 65003 and peer["uptime"] == -1


# ---------------------------------------------------------------------------------------- 2. get_config


def test_get_config_running(drv: Any, dev: IosxrNetconfDouble) -> None:
    running = drv.get_config(retrieve="running")["running"]
    assert running == dev.running().strip()
    assert running.startswith("!! IOS XR Configuration 7.3.2\n!! Last configuration change at ")
    assert strip_header(running + "\n") == dev.baseline


# ------------------------------------------------------------------------------ 3. load, compare, discard


def test_compare_then_discard(drv: Any, dev: IosxrNetconfDouble) -> None:
    drv.load_replace_candidate(config=without_gi1(edited(dev.baseline)))
    assert dev.locked()
    assert drv.compare_config() == (
        "-  hostname r1\n"
        "-  interface GigabitEthernet0/0/0/1\n"
        "-   ipv4 address 192.0.2.1 255.255.255.0\n"
        "-  !\n"
        "+  hostname r1-new"
    )
    drv.discard_config()
    assert body(dev) == dev.baseline
    clean(dev)
    assert drv.compare_config() == ""


def test_compare_of_the_same_config_is_empty(drv: Any, dev: IosxrNetconfDouble) -> None:
    drv.load_replace_candidate(config=dev.running())
    assert drv.compare_config() == ""
    drv.discard_config()
    clean(dev)


# ------------------------------------------------------------------------------------------ 4. commit


def test_commit_is_a_full_replacement(drv: Any, dev: IosxrNetconfDouble) -> None:
    new = without_gi1(edited(dev.baseline))
    drv.load_replace_candidate(config=new)
    drv.commit_config()
    assert body(dev) == new
    assert dev.commit_ids()[:2] == ["1000000002", "1000000001"]
    clean(dev)
    assert drv.get_facts()["interface_list"] == ["GigabitEthernet0/0/0/0"]


def test_merge_adds_to_the_running_config(drv: Any, dev: IosxrNetconfDouble) -> None:
    drv.load_merge_candidate(config="interface GigabitEthernet0/0/0/1\n description merged\n!\n")
    drv.commit_config()
    assert " description merged\n" in body(dev) and "hostname r1\n" in body(dev)


# ----------------------------------------------------------------------------- 5. no commit confirmed


def test_revert_in_and_pending_commit_are_not_implemented(drv: Any, dev: IosxrNetconfDouble) -> None:
    drv.load_replace_candidate(config=edited(dev.baseline))
    with pytest.raises(NotImplementedError):
        drv.commit_config(revert_in=60)
    assert body(dev) == dev.baseline  # nothing committed...
    assert dev.locked()  # ...and the driver still holds the lock it took at load
    with pytest.raises(NotImplementedError):
        drv.has_pending_commit()
    with pytest.raises(NotImplementedError):
        drv.confirm_commit()
    drv.discard_config()
    clean(dev)


def test_the_double_honours_netconf_confirmed_commit(dev: IosxrNetconfDouble) -> None:
    """The device side of RFC 6241 8.4, which the NAPALM driver never uses (plain ncclient here)."""
    with manager.connect(
        host=dev.hostname,
        port=dev.server.port,
        username=dev.username,
        password=dev.password,
        hostkey_verify=False,
        look_for_keys=False,
        allow_agent=False,
        device_params={"name": "iosxr"},
    ) as nc:
        config = f'<source><config><cli xmlns="{CLI_NS}">{edited(dev.baseline)}</cli></config></source>'
        nc.copy_config(source=config, target="candidate")
        nc.commit(confirmed=True, timeout="600")
        assert dev.has_pending() and "hostname r1-new" in dev.running()
        dev.fire_timer()
        assert not dev.has_pending() and body(dev) == dev.baseline
        nc.copy_config(source=config, target="candidate")
        nc.commit(confirmed=True, timeout="600")
        nc.commit()  # a plain commit confirms
        assert not dev.has_pending() and "hostname r1-new" in dev.running()


# -------------------------------------------------------------------------------------------- 6. rollback


def test_rollback_restores_the_config_before_the_last_commit(drv: Any, dev: IosxrNetconfDouble) -> None:
    new = without_gi1(dev.baseline)
    drv.load_replace_candidate(config=new)
    drv.commit_config()
    drv.rollback()
    assert body(dev) == dev.baseline
    assert len(dev.commit_ids()) == 3  # the rollback is a commit of its own
    drv.rollback()  # so a second one undoes the first
    assert body(dev) == new
    clean(dev)


def test_rollback_from_a_new_session(dev: IosxrNetconfDouble) -> None:
    first = open_driver(dev)
    first.load_replace_candidate(config=edited(dev.baseline))
    first.commit_config()
    first.close()
    second = open_driver(dev)
    with pytest.raises(NotImplementedError):
        second.has_pending_commit()  # netimmutable recover cannot ask this driver
    second.rollback()
    second.close()
    assert body(dev) == dev.baseline
    clean(dev)


# --------------------------------------------------------------------------------------- 7. invalid config


def test_invalid_config_is_refused_and_the_lock_stays_until_discard(
    drv: Any, dev: IosxrNetconfDouble
) -> None:
    with pytest.raises(ReplaceConfigException, match="Invalid input"):
        drv.load_replace_candidate(config=dev.baseline + "frobnicate all the widgets 42\n")
    assert body(dev) == dev.baseline
    assert not dev.has_pending()
    assert dev.locked()  # the driver does not unlock on a failed load
    assert drv.compare_config() == ""  # and forgets it had changes
    drv.discard_config()
    clean(dev)
    with pytest.raises(MergeConfigException, match="Invalid input"):
        drv.load_merge_candidate(config="frobnicate all the widgets 42\n")
    drv.discard_config()
    clean(dev)


def test_close_after_a_failed_load_releases_the_lock(dev: IosxrNetconfDouble) -> None:
    driver = open_driver(dev)
    with pytest.raises(ReplaceConfigException):
        driver.load_replace_candidate(config="frobnicate\n")
    driver.close()
    clean(dev)
    assert body(dev) == dev.baseline


# ---------------------------------------------------------------------------------- 8. commit message


def test_commit_message_is_not_implemented(drv: Any, dev: IosxrNetconfDouble) -> None:
    drv.load_replace_candidate(config=edited(dev.baseline))
    with pytest.raises(NotImplementedError):
        drv.commit_config(message="netimmutable release 42")
    assert body(dev) == dev.baseline
    drv.discard_config()
    clean(dev)


# ------------------------------------------------------------------------------- 9. another session's lock


def test_load_fails_while_another_session_holds_the_lock(drv: Any, dev: IosxrNetconfDouble) -> None:
    other = open_driver(dev, config_lock=True)  # locks when it connects
    with pytest.raises(RPCError) as err:  # ncclient's error: the driver does not wrap a failed lock
        drv.load_replace_candidate(config=edited(dev.baseline))
    assert err.value.tag == "lock-denied"
    assert body(dev) == dev.baseline
    other.close()
    clean(dev)
    drv.load_replace_candidate(config=edited(dev.baseline))
    drv.commit_config()
    assert "hostname r1-new\n" in dev.running()


def test_a_session_that_ends_mid_change_leaves_no_lock(dev: IosxrNetconfDouble) -> None:
    driver = open_driver(dev)
    driver.load_replace_candidate(config=edited(dev.baseline))
    driver.device.close_session()  # the session ends without discard or unlock (a crash, as seen by XR)
    wait = 0
    while dev.locked() and wait < 200:
        time.sleep(0.05)
        wait += 1
    clean(dev)
    assert body(dev) == dev.baseline


def test_set_running_out_of_band_is_drift_the_driver_sees(drv: Any, dev: IosxrNetconfDouble) -> None:
    dev.set_running(dev.baseline.replace("hostname r1\n", "hostname drifted\n"))
    assert "hostname drifted" in drv.get_config(retrieve="running")["running"]
    assert drv.get_facts()["hostname"] == "drifted"


def test_the_double_is_a_device_double(dev: IosxrNetconfDouble) -> None:
    double: DeviceDouble = dev
    assert double.platform == "iosxr_netconf" and double.name == "r1" and double.hostname == "127.0.0.1"
    assert json.loads(json.dumps(dict(double.optional_args))) == {"port": dev.server.port}
    assert double.peers == {"10.0.0.2": 65002} and len(double.password) >= 16


def test_parser_keeps_empty_sub_modes_and_refuses_unknown_commands() -> None:
    text = "router bgp 1\n address-family ipv4 unicast\n !\n neighbor 192.0.2.2\n  remote-as 2\n !\n!\n"
    assert iosxr_conf.render(iosxr_conf.parse(text)) == text
    with pytest.raises(iosxr_conf.CliError):
        iosxr_conf.parse("hostname r1\nfrobnicate 42\n")


# ------------------------------------------------------------------- config_encoding="xml": YANG trees


@pytest.fixture
def xdev() -> Iterator[IosxrNetconfDouble]:
    with start_iosxr_netconf(encoding="xml") as double:
        yield double


GI1_XML = (
    "<interface-configuration><active>act</active><interface-name>GigabitEthernet0/0/0/1</interface-name>"
)


def test_xml_encoding_change_window(xdev: IosxrNetconfDouble) -> None:
    driver = open_driver(xdev)
    assert driver.get_facts()["hostname"] == "r1"
    assert driver.get_bgp_neighbors()["global"]["peers"]["10.0.0.2"]["is_up"]
    running = driver.get_config(retrieve="running")["running"]
    assert "<host-name>r1</host-name>" in running and "Cisco-IOS-XR-ipv4-bgp-cfg" in running
    start = xdev.baseline.index(GI1_XML)
    end = xdev.baseline.index("</interface-configuration>", start) + len("</interface-configuration>")
    new = xdev.baseline[:start] + xdev.baseline[end:]
    new = new.replace("<host-name>r1<", "<host-name>r1-new<").replace("<as-yy>65002<", "<as-yy>65003<")
    driver.load_replace_candidate(config=new)
    diff = driver.compare_config()  # the driver's own unified diff of running and candidate XML
    assert "-    <host-name>r1</host-name>" in diff and "+    <host-name>r1-new</host-name>" in diff
    driver.commit_config()
    assert "GigabitEthernet0/0/0/1" not in xdev.running()  # a full replacement
    assert driver.get_facts()["interface_list"] == ["GigabitEthernet0/0/0/0"]
    assert not driver.get_bgp_neighbors()["global"]["peers"]["10.0.0.2"]["is_up"]
    driver.rollback()
    assert "GigabitEthernet0/0/0/1" in xdev.running() and "<host-name>r1</host-name>" in xdev.running()
    clean(xdev)
    driver.close()


def test_xml_encoding_merge_matches_list_entries_by_key(xdev: IosxrNetconfDouble) -> None:
    driver = open_driver(xdev)
    driver.load_merge_candidate(
        config='<config><interface-configurations xmlns="http://cisco.com/ns/yang/Cisco-IOS-XR-ifmgr-cfg">'
        f"{GI1_XML}<description>merged</description></interface-configuration>"
        "</interface-configurations></config>"
    )
    driver.commit_config()
    driver.close()
    running = xdev.running()
    assert running.count("<interface-configuration>") == 2  # the entry keyed GigabitEthernet0/0/0/1 merged
    assert "<description>merged</description>" in running and "<description>to r2</description>" in running


def test_xml_encoding_refusals(xdev: IosxrNetconfDouble) -> None:
    driver = open_driver(xdev)
    with pytest.raises(ReplaceConfigException, match="Unexpected YANG model reference"):
        # refused by the driver itself: openconfig trees are outside its module set
        driver.load_replace_candidate(
            config='<config><system xmlns="http://openconfig.net/yang/system"/></config>'
        )
    driver.discard_config()
    with pytest.raises(ReplaceConfigException, match="unknown namespace"):
        driver.load_replace_candidate(
            config='<config><frob xmlns="urn:example:frob"/></config>'
        )  # by the device
    assert xdev.locked()  # as with the cli encoding, the failed load keeps the lock
    driver.discard_config()
    clean(xdev)
    assert "<host-name>r1</host-name>" in xdev.running() and "frob" not in xdev.running()
    driver.close()


def test_sanitized_get_config_is_not_implemented(drv: Any) -> None:
    with pytest.raises(NotImplementedError):
        drv.get_config(retrieve="running", sanitized=True)
