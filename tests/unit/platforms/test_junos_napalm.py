"""NAPALM's real ``junos`` driver (PyEZ over ncclient) against the Junos NETCONF double.

Every test drives ``napalm.get_network_driver("junos")`` unpatched, through its documented optional_args
only, and checks the device afterwards out of band (through the double). What each asserts is what
netimmutable's change window relies on for this platform.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import napalm
import pytest
from napalm.base import models
from napalm.base.exceptions import (
    CommitConfirmException,
    LockError,
    MergeConfigException,
    ReplaceConfigException,
)

from tests.contract import check_typeddict
from tests.doubles import junos_conf, junos_set
from tests.doubles.base import DeviceDouble
from tests.doubles.junos import JunosDouble, default_baseline, start_junos, strip_header

NEW_CONFIG_EDITS = {
    "host-name r1;": "host-name r1-new;",
    "address 192.0.2.1/24;": "address 192.0.2.9/24;",
}


@pytest.fixture
def dev() -> Iterator[JunosDouble]:
    with start_junos() as double:
        yield double


def open_driver(dev: JunosDouble, **extra: Any) -> Any:
    driver = napalm.get_network_driver("junos")(
        dev.hostname, dev.username, dev.password, optional_args={**dev.optional_args, **extra}
    )
    driver.open()
    return driver


@pytest.fixture
def drv(dev: JunosDouble) -> Iterator[Any]:
    driver = open_driver(dev)
    yield driver
    driver.close()


def edited(text: str, edits: dict[str, str] = NEW_CONFIG_EDITS) -> str:
    for old, new in edits.items():
        assert old in text
        text = text.replace(old, new)
    return text


def without_ge1(text: str) -> str:
    """The baseline without interface ge-0/0/1 (a statement a full replacement must remove)."""
    stmts = junos_conf.parse(text)
    for stmt in stmts:
        if stmt.words == ("interfaces",) and stmt.children is not None:
            stmt.children = [c for c in stmt.children if c.words != ("ge-0/0/1",)]
    return junos_conf.render(stmts)


def body(dev: JunosDouble) -> str:
    """The running config without Junos' ``## Last commit`` header."""
    return strip_header(dev.running())


def clean(dev: JunosDouble) -> None:
    """Nothing pending, no lock held, no uncommitted change in the candidate."""
    assert not dev.has_pending()
    assert not dev.locked()
    assert not dev.candidate_changed()


def wait_until(predicate: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


# ----------------------------------------------------------------------------------- 1. open and getters


def test_open_close_and_facts(dev: JunosDouble) -> None:
    driver = open_driver(dev)
    assert driver.is_alive() == {"is_alive": True}
    facts = driver.get_facts()
    check_typeddict(facts, models.FactsDict, "get_facts")
    assert facts["hostname"] == "r1"
    assert facts["fqdn"] == "r1"  # no system domain-name: PyEZ's fqdn fact is the host name
    assert facts["vendor"] == "Juniper"
    assert facts["model"] == "VMX"
    assert facts["os_version"] == "23.4R2.13"
    assert facts["uptime"] > 0
    assert facts["interface_list"] == ["ge-0/0/0", "ge-0/0/1"]
    driver.close()
    assert driver.is_alive() == {"is_alive": False}


def test_interfaces_reflect_the_config(drv: Any, dev: JunosDouble) -> None:
    interfaces = drv.get_interfaces()
    for name, data in interfaces.items():
        check_typeddict(data, models.InterfaceDict, f"get_interfaces[{name}]")
    # physical interfaces and their units, as Junos lists them
    assert sorted(interfaces) == ["ge-0/0/0", "ge-0/0/0.0", "ge-0/0/1", "ge-0/0/1.0"]
    assert interfaces["ge-0/0/0"]["description"] == "to r2"
    assert interfaces["ge-0/0/0"]["is_up"] and interfaces["ge-0/0/0"]["is_enabled"]
    assert interfaces["ge-0/0/0"]["speed"] == 1000.0
    assert interfaces["ge-0/0/0.0"]["mac_address"] == interfaces["ge-0/0/0"]["mac_address"]
    drv.load_replace_candidate(config=dev.baseline.replace('description "to r2";', "disable;"))
    drv.commit_config()
    after = drv.get_interfaces()
    assert not after["ge-0/0/0"]["is_enabled"] and not after["ge-0/0/0"]["is_up"]
    assert after["ge-0/0/0"]["description"] == ""


def test_bgp_neighbour_up_then_down_after_peer_as_change(drv: Any, dev: JunosDouble) -> None:
    bgp = drv.get_bgp_neighbors()
    for vrf, data in bgp.items():
        check_typeddict(data, models.BGPStateNeighborsPerVRFDict, f"get_bgp_neighbors[{vrf}]")
    assert list(bgp) == ["global"]
    assert bgp["global"]["router_id"] == "10.0.0.1"
    peer = bgp["global"]["peers"]["10.0.0.2"]
    assert peer["is_up"] and peer["remote_as"] == 65002 and peer["local_as"] == 65001
    assert peer["address_family"]["ipv4"]["received_prefixes"] == 1
    drv.load_replace_candidate(config=dev.baseline.replace("peer-as 65002;", "peer-as 65003;"))
    drv.commit_config()
    peer = drv.get_bgp_neighbors()["global"]["peers"]["10.0.0.2"]
    assert not peer["is_up"] and peer["remote_as"] == 65003
    assert peer["address_family"]["ipv4"]["received_prefixes"] == -1


# ---------------------------------------------------------------------------------------- 2. get_config


def test_get_config_running_is_the_running_config(drv: Any, dev: JunosDouble) -> None:
    running = drv.get_config(retrieve="running")["running"]
    assert running == dev.running()
    assert running.startswith("## Last commit: ")  # a volatile header line the text compare must ignore
    assert strip_header(running) == dev.baseline
    assert strip_header(drv.get_config(retrieve="candidate")["candidate"]) == dev.baseline


# ------------------------------------------------------------------------------ 3. load, compare, discard


def test_compare_shows_the_change_and_discard_leaves_nothing(drv: Any, dev: JunosDouble) -> None:
    drv.load_replace_candidate(config=without_ge1(edited(dev.baseline)))
    assert dev.locked() and dev.candidate_changed()
    assert drv.compare_config() == (
        "[edit system]\n"
        "-  host-name r1;\n"
        "+  host-name r1-new;\n"
        "[edit interfaces]\n"
        "-  ge-0/0/1 {\n"
        "-      unit 0 {\n"
        "-          family inet {\n"
        "-              address 192.0.2.1/24;\n"
        "-          }\n"
        "-      }\n"
        "-  }"
    )
    drv.discard_config()
    assert body(dev) == dev.baseline
    clean(dev)
    assert drv.compare_config() == ""


def test_compare_of_an_identical_config_is_empty(drv: Any, dev: JunosDouble) -> None:
    drv.load_replace_candidate(config=dev.running())  # the header is a comment: it loads
    assert drv.compare_config() == ""
    drv.discard_config()
    clean(dev)


def test_a_session_that_ends_mid_change_leaves_no_lock_nor_candidate(dev: JunosDouble) -> None:
    driver = open_driver(dev)
    driver.load_replace_candidate(config=edited(dev.baseline))
    assert dev.locked()
    driver.close()  # no discard: Junos drops the lock and the uncommitted changes with the session
    wait_until(lambda: not dev.locked(), "the lock to go with the session")
    assert body(dev) == dev.baseline
    clean(dev)


# ------------------------------------------------------------------------------------------ 4. commit


def test_commit_is_a_full_replacement(drv: Any, dev: JunosDouble) -> None:
    new = without_ge1(edited(dev.baseline))
    drv.load_replace_candidate(config=new)
    drv.commit_config()
    assert body(dev) == new
    assert "ge-0/0/1" not in dev.running()
    assert dev.rollback_config(1) == dev.baseline  # the previous commit is rollback 1
    clean(dev)
    assert drv.get_facts()["hostname"] == "r1-new"
    assert drv.get_facts()["interface_list"] == ["ge-0/0/0"]


def test_load_merge_keeps_what_it_does_not_name(drv: Any, dev: JunosDouble) -> None:
    drv.load_merge_candidate(config="system {\n    host-name r1-merged;\n}\n")
    drv.commit_config()
    assert body(dev) == dev.baseline.replace("host-name r1;", "host-name r1-merged;")


def test_set_commands_merge_and_delete_removes_what_it_names(drv: Any, dev: JunosDouble) -> None:
    """``load set`` (NAPALM detects the format, PyEZ sends ``<configuration-set>``): applied in order."""
    drv.load_merge_candidate(
        config="set system host-name r1-set\ndelete interfaces ge-0/0/1\n"
        "set interfaces ge-0/0/2 unit 0 family inet address 198.51.100.1/24\n"
    )
    drv.commit_config()
    running = body(dev)
    assert "host-name r1-set;" in running and "ge-0/0/1" not in running
    assert "ge-0/0/2 {" in running and "address 198.51.100.1/24;" in running
    assert "peer-as 65002;" in running  # what the commands do not name stays
    clean(dev)


def test_a_top_level_delete_then_set_commands_is_the_whole_config(drv: Any, dev: JunosDouble) -> None:
    whole = junos_set.display_set(junos_conf.parse(dev.baseline)).replace("host-name r1", "host-name r2")
    drv.load_merge_candidate(config="delete \n" + whole)
    assert "host-name r2" in drv.compare_config()
    drv.commit_config()
    assert body(dev) == dev.baseline.replace("host-name r1;", "host-name r2;")
    clean(dev)


# ----------------------------------------------------------------------------- 5. commit confirmed


def test_revert_in_must_be_whole_minutes(drv: Any, dev: JunosDouble) -> None:
    drv.load_replace_candidate(config=edited(dev.baseline))
    with pytest.raises(CommitConfirmException, match="multiple of 60"):
        drv.commit_config(revert_in=90)
    assert body(dev) == dev.baseline
    clean(dev)  # the driver unlocked, and unlocking discarded the candidate


def test_commit_confirmed_then_confirm(drv: Any, dev: JunosDouble) -> None:
    new = edited(dev.baseline)
    drv.load_replace_candidate(config=new)
    drv.commit_config(revert_in=120)
    assert dev.has_pending() and drv.has_pending_commit()
    assert body(dev) == new
    drv.confirm_commit()
    assert not dev.has_pending() and not drv.has_pending_commit()
    dev.fire_timer()  # nothing left to fire
    assert body(dev) == new
    clean(dev)


def test_commit_confirmed_not_confirmed_reverts(drv: Any, dev: JunosDouble) -> None:
    drv.load_replace_candidate(config=without_ge1(edited(dev.baseline)))
    drv.commit_config(revert_in=60)
    assert drv.has_pending_commit()
    dev.fire_timer()
    assert body(dev) == dev.baseline
    assert not drv.has_pending_commit()
    clean(dev)
    # the revert is a commit of its own: rollback 1 is the unconfirmed config
    assert "ge-0/0/1" not in dev.rollback_config(1)


def test_commit_confirmed_real_timer_reverts() -> None:
    with start_junos(minute=0.3) as dev:  # one confirm-timeout minute lasts 0.3 s here
        driver = open_driver(dev)
        driver.load_replace_candidate(config=edited(dev.baseline))
        driver.commit_config(revert_in=60)
        wait_until(lambda: not dev.has_pending(), "the commit-confirmed timer")
        assert body(dev) == dev.baseline
        assert not driver.has_pending_commit()
        driver.close()
        clean(dev)


def test_reconnect_sees_and_confirms_the_pending_commit(dev: JunosDouble) -> None:
    new = edited(dev.baseline)
    first = open_driver(dev)
    first.load_replace_candidate(config=new)
    first.commit_config(revert_in=300)
    first.close()  # the committing session goes away (netimmutable crashed): the timer keeps running
    assert dev.has_pending()
    second = open_driver(dev)
    assert second.has_pending_commit()  # read from the device's newest commit, not from the driver
    second.confirm_commit()  # any commit confirms it, from any session
    assert not second.has_pending_commit()
    second.close()
    assert body(dev) == new
    clean(dev)


def test_reconnect_rollback_while_pending_restores_the_previous_config(dev: JunosDouble) -> None:
    first = open_driver(dev)
    first.load_replace_candidate(config=edited(dev.baseline))
    first.commit_config(revert_in=300)
    first.close()
    second = open_driver(dev)
    second.rollback()  # rollback 1 + commit: that commit also ends the commit confirmed
    assert not second.has_pending_commit()
    second.close()
    assert body(dev) == dev.baseline
    clean(dev)


# -------------------------------------------------------------------------------------------- 6. rollback


def test_rollback_restores_the_previous_commit(drv: Any, dev: JunosDouble) -> None:
    drv.load_replace_candidate(config=without_ge1(dev.baseline))
    drv.commit_config()
    drv.rollback()
    assert body(dev) == dev.baseline
    clean(dev)
    drv.rollback()  # a second rollback goes back to the commit the first one undid
    assert "ge-0/0/1" not in dev.running()


def test_rollback_after_a_confirmed_commit_keeps_the_new_config(drv: Any, dev: JunosDouble) -> None:
    """The confirming commit is a commit of its own: rollback 1 is then the confirmed config itself."""
    new = edited(dev.baseline)
    drv.load_replace_candidate(config=new)
    drv.commit_config(revert_in=60)
    drv.confirm_commit()
    drv.rollback()
    assert body(dev) == new
    assert dev.rollback_config(3) == dev.baseline
    clean(dev)


# --------------------------------------------------------------------------------------- 7. invalid config


@pytest.mark.parametrize(
    "bad",
    [
        "frobnicate all the widgets 42;\n",
        "protocols {\n    bgp {\n",
        "system {\n    host-name\n}\n",
    ],
)
def test_invalid_config_is_refused_and_nothing_changes(drv: Any, dev: JunosDouble, bad: str) -> None:
    with pytest.raises(ReplaceConfigException, match="syntax error"):
        drv.load_replace_candidate(config=dev.baseline + bad)
    assert body(dev) == dev.baseline
    clean(dev)
    with pytest.raises(MergeConfigException, match="syntax error"):
        drv.load_merge_candidate(config=bad)
    clean(dev)


# ---------------------------------------------------------------------------------- 8. commit message


def test_commit_message_is_the_commit_log(drv: Any, dev: JunosDouble) -> None:
    drv.load_replace_candidate(config=edited(dev.baseline))
    drv.commit_config(message="netimmutable release 42")
    assert dev.commit_log(0) == "netimmutable release 42"
    assert not drv.has_pending_commit()  # a comment alone is no pending commit
    drv.load_replace_candidate(config=dev.baseline)
    drv.commit_config(message="with timer", revert_in=60)
    assert dev.commit_log(0) == "with timer" and drv.has_pending_commit()
    drv.confirm_commit()
    clean(dev)


# ------------------------------------------------------------------------------- 9. another session's lock


def test_load_fails_while_another_session_holds_the_lock(drv: Any, dev: JunosDouble) -> None:
    other = open_driver(dev, config_lock=True)  # locks the candidate when it opens
    assert dev.locked()
    with pytest.raises(LockError, match="configuration database locked by"):
        drv.load_replace_candidate(config=edited(dev.baseline))
    assert body(dev) == dev.baseline
    other.close()  # unlocks
    clean(dev)
    drv.load_replace_candidate(config=edited(dev.baseline))
    drv.commit_config()
    assert "host-name r1-new;" in dev.running()


def test_lock_fails_while_the_candidate_holds_another_sessions_changes(drv: Any, dev: JunosDouble) -> None:
    other = open_driver(dev, lock_disable=True)  # edits the shared candidate without a lock
    other.load_merge_candidate(config="system {\n    host-name someone-else;\n}\n")
    assert dev.candidate_changed() and not dev.locked()
    with pytest.raises(LockError, match="configuration database modified"):
        drv.load_replace_candidate(config=edited(dev.baseline))
    other.discard_config()
    other.close()
    clean(dev)


# ------------------------------------------------------------------------------ the NETCONF server itself


def test_netconf_1_1_chunked_framing() -> None:
    with start_junos(netconf_1_1=True) as dev:
        driver = open_driver(dev)
        assert driver.get_facts()["hostname"] == "r1"  # the server has read the client's hello by now
        assert dev.server.sessions[-1].base11  # ncclient switched to chunked framing
        driver.load_replace_candidate(config=edited(dev.baseline))
        driver.commit_config()
        driver.close()
        assert "host-name r1-new;" in dev.running()
    with start_junos() as dev:
        open_driver(dev).close()
        assert not dev.server.sessions[-1].base11  # Junos' default: base:1.0 and the ]]>]]> marker


def test_wrong_password_is_refused(dev: JunosDouble) -> None:
    driver = napalm.get_network_driver("junos")(
        dev.hostname, dev.username, dev.password + "x", optional_args=dict(dev.optional_args)
    )
    with pytest.raises(Exception, match="ConnectAuthError"):
        driver.open()


def test_set_running_out_of_band_is_drift_the_driver_sees(drv: Any, dev: JunosDouble) -> None:
    dev.set_running(dev.baseline.replace("host-name r1;", "host-name drifted;"))
    assert "host-name drifted;" in drv.get_config(retrieve="running")["running"]
    assert dev.rollback_config(1) == dev.baseline


def test_sanitized_get_config_masks_junos_secrets() -> None:
    secret = '"$9$Xp2aGDkqfz6UD"'
    baseline = default_baseline().replace(
        "    host-name r1;\n",
        f"    host-name r1;\n    root-authentication {{\n        encrypted-password {secret};\n    }}\n",
    )
    with start_junos(baseline=baseline) as dev:
        driver = open_driver(dev)
        plain = driver.get_config(retrieve="running")["running"]
        masked = driver.get_config(retrieve="running", sanitized=True)["running"]
        driver.close()
    assert secret in plain  # the driver hands back $9$ secrets unless asked to sanitize
    assert secret not in masked
    assert "encrypted-password <removed>;" in masked


# ------------------------------------------------------------------------- the double's config parser


def test_parser_round_trip_and_comments() -> None:
    text = (
        "## Last commit: 2026-12-02 18:40:09 UTC by admin\n"
        "system { host-name r1; /* note */ name-server [ 192.0.2.53 192.0.2.54 ]; }\n"
        'interfaces { ge-0/0/0 { description "two words"; } }\n'
    )
    assert junos_conf.render(junos_conf.parse(text)) == (
        "system {\n    host-name r1;\n    name-server [ 192.0.2.53 192.0.2.54 ];\n}\n"
        'interfaces {\n    ge-0/0/0 {\n        description "two words";\n    }\n}\n'
    )


def test_diff_of_a_new_top_level_block_is_under_edit() -> None:
    old = junos_conf.parse("system {\n    host-name r1;\n}\n")
    new = junos_conf.parse("system {\n    host-name r1;\n}\nsnmp {\n    location lab;\n}\n")
    assert junos_conf.diff(old, new) == "\n[edit]\n+  snmp {\n+      location lab;\n+  }\n"
    assert junos_conf.diff(old, old) == "\n"


@pytest.mark.parametrize(
    ("text", "token"),
    [("frobnicate 1;", "frobnicate"), ("system {", "}"), ("system { host-name r1 }", "r1"), ("}", "}")],
)
def test_parser_refusals(text: str, token: str) -> None:
    with pytest.raises(junos_conf.ConfigSyntaxError) as err:
        junos_conf.parse(text)
    assert err.value.token == token


def test_a_peer_that_goes_away_is_down(drv: Any, dev: JunosDouble) -> None:
    dev.set_peer("10.0.0.2", None)
    assert not drv.get_bgp_neighbors()["global"]["peers"]["10.0.0.2"]["is_up"]
    dev.set_peer("10.0.0.2", 65002)
    assert drv.get_bgp_neighbors()["global"]["peers"]["10.0.0.2"]["is_up"]


def test_the_double_is_a_device_double(dev: JunosDouble) -> None:
    double: DeviceDouble = dev
    assert double.platform == "junos" and double.name == "r1" and double.hostname == "127.0.0.1"
    assert json.loads(json.dumps(dict(double.optional_args))) == {"port": dev.server.port}
    assert double.peers == {"10.0.0.2": 65002} and len(double.password) >= 16


def test_a_second_commit_confirmed_keeps_the_first_rollback_point(drv: Any, dev: JunosDouble) -> None:
    drv.load_replace_candidate(config=edited(dev.baseline))
    drv.commit_config(revert_in=60)
    drv.load_replace_candidate(config=without_ge1(edited(dev.baseline)))
    drv.commit_config(revert_in=60)  # the driver does not refuse it; the device restarts the timer
    assert drv.has_pending_commit()
    dev.fire_timer()
    assert body(dev) == dev.baseline
    clean(dev)


def test_replace_with_set_commands_is_refused_by_pyez_and_keeps_the_lock(drv: Any, dev: JunosDouble) -> None:
    """NAPALM sends text starting with ``set`` as format ``set``; PyEZ refuses ``set`` with ``overwrite``
    before anything reaches the device, with a bare ValueError that NAPALM does not wrap."""
    with pytest.raises(ValueError, match="cannot use 'set' with 'overwrite'"):
        drv.load_replace_candidate(config="set system host-name r1-new\n")
    assert dev.locked()  # NAPALM locked before PyEZ refused
    drv.discard_config()
    clean(dev)
