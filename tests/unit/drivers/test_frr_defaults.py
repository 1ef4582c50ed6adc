"""Lines FRR never shows (its defaults) and frr-reload.py's diff without them (issue 15 item 7).

The data files are measured on the lab's FRR 8.4.4: ``defaults_candidate.conf`` is r1's config plus lines
that restate defaults (and one that does not: ``no bgp fast-external-failover``, which FRR shows), applied
with ``frr-reload.py --reload``; ``defaults_after_reload.txt`` is what ``frr-reload.py --test`` said right
after: every default line is "still to add", forever. Before, the driver read that as "did not converge"
and refused the commit of such a config on every deploy."""

from __future__ import annotations

from pathlib import Path

import pytest

from netimmutable.drivers.frr.reload_diff import parse, undeletable_interfaces, without_defaults
from netimmutable.drivers.frr_defaults import default_lines

DATA = Path(__file__).resolve().parents[1] / "data" / "frr_reload"
CANDIDATE = (DATA / "defaults_candidate.conf").read_text()
AFTER_RELOAD = (DATA / "defaults_after_reload.txt").read_text()


def test_every_default_frr_left_unshown_is_no_change_after_the_reload() -> None:
    assert len(parse(AFTER_RELOAD).adds) == 18
    assert without_defaults(AFTER_RELOAD, CANDIDATE) == ""


def test_a_real_difference_next_to_the_defaults_is_kept() -> None:
    real = AFTER_RELOAD + "router bgp 65001\n neighbor 10.255.12.2 shutdown\nip route 10.9.0.0/16 blackhole\n"
    left = parse(without_defaults(real, CANDIDATE))
    assert left.adds == (
        ("router bgp 65001", "neighbor 10.255.12.2 shutdown"),
        ("ip route 10.9.0.0/16 blackhole",),
    )
    assert left.deletes == ()


def test_deletes_are_never_dropped() -> None:
    text = "Lines To Delete\n===============\nrouter bgp 65001\n bgp ebgp-requires-policy\n"
    assert parse(without_defaults(text, CANDIDATE)).deletes == (
        ("router bgp 65001", "bgp ebgp-requires-policy"),
    )


def test_activate_is_a_real_setting_once_default_ipv4_unicast_is_off() -> None:
    target = CANDIDATE.replace(" bgp default ipv4-unicast\n", " no bgp default ipv4-unicast\n")
    text = (
        "Lines To Add\n============\n"
        "router bgp 65001\n address-family ipv4 unicast\n  neighbor 10.0.0.9 activate\n"
    )
    assert without_defaults(text, CANDIDATE) == ""
    assert parse(without_defaults(text, target)).adds  # FRR shows it then: still a difference


def test_output_that_is_not_a_diff_is_kept_as_a_difference() -> None:
    assert without_defaults("Traceback (most recent call last): ...", "") != ""


def test_the_default_lines_of_the_measured_candidate_in_order() -> None:
    found = [(d.line, d.text) for d in default_lines(CANDIDATE)]
    texts = [text for _, text in found]
    assert "no bgp fast-external-failover" not in texts  # FRR shows it: a real setting
    assert texts[:2] == ["ip forwarding", "ipv6 forwarding"]
    assert "bgp ebgp-requires-policy" in texts and "neighbor 10.255.12.2 activate" in texts
    assert "address-family ipv6 unicast" in texts and "line vty" in texts  # empty blocks
    lines = CANDIDATE.splitlines()
    assert all(lines[number - 1].strip() == text for number, text in found)
    assert len(found) == 18


OTHER_STYLE = """\
frr defaults traditional
hostname edge1
router bgp 65010
  bgp ebgp-requires-policy
  neighbor 192.0.2.2 remote-as 65020
  address-family ipv4 unicast
    neighbor 192.0.2.2 activate
    neighbor 192.0.2.2 route-map IN in
  address-family ipv6 unicast
interface eth0
  no shutdown
  description uplink
"""


def test_a_config_in_another_style_two_spaces_no_exit_lines() -> None:
    found = [(d.line, d.text) for d in default_lines(OTHER_STYLE)]
    assert found == [
        (4, "bgp ebgp-requires-policy"),
        (7, "neighbor 192.0.2.2 activate"),
        (9, "address-family ipv6 unicast"),
        (11, "no shutdown"),
    ]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            "frr version 7.3\nrouter bgp 1\n bgp ebgp-requires-policy\n",
            [],
        ),  # written for 7.3: not the default
        ("frr version 8.4.4\nrouter bgp 1\n bgp ebgp-requires-policy\n", ["bgp ebgp-requires-policy"]),
        ("frr defaults datacenter\nrouter bgp 1\n timers bgp 3 9\n timers bgp 60 180\n", ["timers bgp 3 9"]),
        ("router bgp 1\n timers bgp 3 9\n timers bgp 60 180\n", ["timers bgp 60 180"]),
        ("route-map X permit 10\n no shutdown\n", []),  # not an interface block
        ("ip route 10.0.0.0/8 blackhole\n no shutdown\n", []),  # an orphan indented line stands nowhere
    ],
)
def test_profile_version_and_block_decide(config: str, expected: list[str]) -> None:
    assert [d.text for d in default_lines(config)] == expected


def test_an_interface_block_the_target_lacks_is_one_to_remove_whole() -> None:
    residual = (
        "Lines To Delete\n===============\ninterface dummy9\n multicast\ninterface eth1\n no description x\n"
    )
    assert undeletable_interfaces(residual, "interface eth1\n ip address 10.0.0.1/30\n") == (
        "interface dummy9",
    )


@pytest.mark.parametrize("config", [CANDIDATE, OTHER_STYLE, "router bgp 1\n address-family ipv6 unicast\n"])
def test_the_fast_pre_check_never_hides_a_default_line(config: str, monkeypatch: pytest.MonkeyPatch) -> None:
    found = default_lines(config)
    monkeypatch.setattr("netimmutable.drivers.frr_defaults._may_hold_defaults", lambda _config: True)
    assert default_lines(config) == found and found
