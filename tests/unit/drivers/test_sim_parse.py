"""FRR-syntax parsing of the ``sim`` driver: round trip, syntax check, merge, model."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netimmutable.drivers.sim import knobs, lab, parse
from netimmutable.drivers.sim.parse import ConfigSyntaxError, canonical, check_syntax, merge, model_of, render
from tests.unit.drivers.example_network import ROUTERS, frr_config


@pytest.mark.parametrize("module", [parse, knobs, lab])
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("host", sorted(ROUTERS))
def test_example_configs_round_trip_and_pass_the_syntax_check(host: str) -> None:
    text = frr_config(host)
    check_syntax(text)
    assert render(parse.parse(text)) == canonical(text)


@given(
    st.lists(st.sampled_from(["hostname a", " x", "  y", "exit", "!", "", "router bgp 1   "]), max_size=30)
)
def test_canonical_is_idempotent_and_round_trip_keeps_lines(lines: list[str]) -> None:
    text = "\n".join(lines)
    once = canonical(text)
    assert canonical(once) == once
    assert once == "" or once.endswith("\n")
    assert render(parse.parse(text)).splitlines() == [ln for ln in once.splitlines() if ln]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("hostname r1\nfrobnicate 42\n", 2, "Unknown command"),
        ("router bgp 0\nexit\n", 1, "Invalid AS number"),
        ("router bgp 65001\n neighbor 10.0.0.1 remote-as 99999999999\n", 2, "Invalid AS number"),
        ("router bgp 65001\n neighbor 10.0.0.1 flap-wildly\n", 2, "Unknown command"),
        ("router bgp 65001\n address-family ipv4 unicast\n  network 10.0.0.0/33\n", 3, "Malformed prefix"),
        ("interface eth0\n ip address 10.0.0.1\n", 2, "Malformed address"),
        ("ip route 10.0.0.0/8\n", 1, "Malformed route"),
    ],
)
def test_syntax_errors_point_at_the_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(ConfigSyntaxError) as info:
        check_syntax(text)
    assert (info.value.line, info.value.reason) == (line, reason)


def test_merge_puts_lines_in_their_block_before_sub_blocks() -> None:
    merged = merge(frr_config("r2"), "router bgp 65002\n neighbor 10.255.23.2 description r3\n")
    lines = merged.splitlines()
    assert lines.index(" neighbor 10.255.23.2 description r3") < lines.index(" address-family ipv4 unicast")
    assert merged.count("router bgp 65002") == 1
    assert lines[-1] == "end"


def test_merge_new_block_goes_before_end_and_is_idempotent() -> None:
    addition = "interface eth9\n ip address 10.9.9.1/30\nexit\n"
    once = merge(frr_config("r1"), addition)
    assert once.splitlines()[-1] == "end"
    assert merge(once, addition) == once


def test_model_of_peer_groups_and_vrf() -> None:
    text = (
        "router bgp 65001 vrf blue\n neighbor PG peer-group\n neighbor PG remote-as 65002\n"
        " neighbor PG shutdown\n"
        " neighbor 10.0.0.2 peer-group PG\n neighbor eth0 interface remote-as external\nexit\n"
    )
    (inst,) = model_of(text).bgp
    assert inst.vrf == "blue"
    (nb,) = inst.neighbors
    assert (nb.address, nb.remote_as, nb.shutdown) == ("10.0.0.2", "65002", True)
