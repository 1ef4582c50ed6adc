"""Network filters and tests for templates, and the ``Examples:`` of the foundation's docstrings."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

from netimmutable.errors import RenderError
from netimmutable.filters import FILTERS, TESTS, address, netmask, network, peer_address, prefixlen
from netimmutable.inventory import load_inventory
from netimmutable.render import make_environment, render_hosts

from .netrepo_helpers import make_netrepo, write_files


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.255.12.1/30", ("10.255.12.1", "10.255.12.0/30", 30, "255.255.255.252")),
        ("192.0.2.7", ("192.0.2.7", "192.0.2.7/32", 32, "255.255.255.255")),
        ("10.1.2.3/8", ("10.1.2.3", "10.0.0.0/8", 8, "255.0.0.0")),
        ("2001:db8::1/64", ("2001:db8::1", "2001:db8::/64", 64, "ffff:ffff:ffff:ffff::")),
    ],
)
def test_address_helpers(value: str, expected: tuple[str, str, int, str]) -> None:
    assert (address(value), network(value), prefixlen(value), netmask(value)) == expected


@pytest.mark.parametrize(
    ("value", "peer"),
    [
        ("10.255.12.1/30", "10.255.12.2"),
        ("10.255.12.2/30", "10.255.12.1"),
        ("10.0.0.0/31", "10.0.0.1"),
        ("10.0.0.1/31", "10.0.0.0"),
        ("2001:db8::1/126", "2001:db8::2"),
        ("2001:db8::/127", "2001:db8::1"),
    ],
)
def test_peer_address(value: str, peer: str) -> None:
    assert peer_address(value) == peer
    assert peer_address(f"{peer}/{prefixlen(value)}") == address(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10.0.0.1/24", "not a point-to-point prefix"),
        ("10.0.0.1/32", "not a point-to-point prefix"),
        ("10.0.0.0/30", "not a host of its point-to-point prefix"),
        ("10.0.0.3/30", "not a host of its point-to-point prefix"),
        ("r1", "not an IP address"),
    ],
)
def test_peer_address_refuses_what_has_no_single_peer(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        peer_address(value)


@pytest.mark.parametrize("func", [address, network, prefixlen, netmask])
def test_non_addresses_are_refused(func: object) -> None:
    assert callable(func)
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300/24' is not an IP address"):
        func("10.0.0.300/24")


def test_ipv4_and_ipv6_tests() -> None:
    env = make_environment(Path("/nonexistent"))
    template = env.from_string(
        "{% for v in values %}{{ v }}={{ 4 if v is ipv4 else 6 if v is ipv6 else '-' }} {% endfor %}"
    )
    values = ["10.0.0.1", "10.0.0.0/8", "2001:db8::1", "fe80::1/64", "r1", "", "10.0.0.256"]
    assert template.render(values=values) == (
        "10.0.0.1=4 10.0.0.0/8=4 2001:db8::1=6 fe80::1/64=6 r1=- =- 10.0.0.256=- "
    )


def test_filters_are_registered_in_the_environment() -> None:
    env = make_environment(Path("/nonexistent"))
    assert set(FILTERS) <= set(env.filters)
    assert set(TESTS) <= set(env.tests)
    out = env.from_string("{{ a | address }} {{ a | network }} {{ a | prefixlen }} {{ a | peer_address }}")
    assert out.render(a="10.255.14.1/30") == "10.255.14.1 10.255.14.0/30 30 10.255.14.2"


def test_a_filter_error_in_a_template_is_a_located_render_error(tmp_path: Path) -> None:
    repo = make_netrepo(tmp_path / "net")
    write_files(
        repo.root,
        {
            "inventory/hosts.yaml": "a1:\n  data:\n    loopback: 10.1.0.1/32\n"
            "    links: [{name: eth1, address: 10.0.12.1/24}]\n"
        },
    )
    write_files(
        repo.root,
        {
            "inventory/groups.yaml": "{}\n",
            "inventory/defaults.yaml": "platform: demo\ndata: {domain: x, role: r, ntp: []}\n",
        },
    )
    with pytest.raises(RenderError) as info:
        render_hosts(repo, load_inventory(repo).hosts())
    assert (info.value.host, info.value.file, info.value.line) == ("a1", "templates/demo/links.j2", 4)
    assert "not a point-to-point prefix" in info.value.message


@pytest.mark.parametrize(
    "module",
    [
        "netimmutable.filters",
        "netimmutable.settings",
        "netimmutable.secretref",
        "netimmutable.artifacts",
        "netimmutable.yamlio",
        "netimmutable.release_diff",
        "netimmutable.render",
        "netimmutable.memo",
        "netimmutable.soak",
        "netimmutable.outcomes",
        "netimmutable.topology",
        "netimmutable.utctime",
        "netimmutable.batch_board",
        "netimmutable.rollback",
        "netimmutable.deploy_model",
        "netimmutable.compare",
        "netimmutable.normalize",
        "netimmutable.device",
        "netimmutable.drivers.capabilities",
        "netimmutable.drivers.frr_defaults",
        "netimmutable.drivers.frr.reload_diff",
        "netimmutable.drivers.unsupported",
    ],
)
def test_docstring_examples_hold(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
