"""The frr driver's vtysh output handling, without a router: several commands in one vtysh start."""

from __future__ import annotations

import json

import pytest

from netimmutable.drivers.frr.driver import FrrDriver

NEIGHBORS = {"default": {"10.0.0.2": {"bgpState": "Established"}}}
SUMMARY = {"default": {"ipv4Unicast": {"as": 65001, "peers": {}}}}
VERSION = "FRRouting 8.4.4 (r1) on Linux(6.1.0).\nCopyright 1996-2005 Kunihiro Ishiguro, et al.\n"


class _Scripted(FrrDriver):
    """A driver whose vtysh answers from a table (one entry per command line run)."""

    def __init__(self, answers: dict[tuple[str, ...], str]) -> None:
        super().__init__("r1", "root", "")
        self.answers = answers
        self.runs: list[tuple[str, ...]] = []

    def _vtysh(self, *commands: str) -> str:
        self.runs.append(commands)
        return self.answers[commands]


def test_json_outputs_of_one_vtysh_start_are_split_in_order() -> None:
    both = ("show bgp vrf all neighbors json", "show bgp vrf all summary json")
    drv = _Scripted({both: json.dumps(NEIGHBORS, indent=2) + "\n" + json.dumps(SUMMARY) + "\n"})
    docs, rest = drv._vtysh_leading_json(*both)
    assert docs == [NEIGHBORS, SUMMARY] and rest == ""
    assert drv.runs == [both]  # one vtysh start


def test_text_after_the_json_is_what_the_last_command_printed() -> None:
    pair = ("show interface json", "show version")
    drv = _Scripted({pair: '{"lo": {"operationalStatus": "up"}}\n' + VERSION})
    docs, rest = drv._vtysh_leading_json(*pair)
    assert docs == [{"lo": {"operationalStatus": "up"}}] and rest == VERSION


@pytest.mark.parametrize(
    "combined",
    [
        json.dumps(SUMMARY),  # the first command printed nothing: the outputs would shift
        "% bgpd is not running\n" + json.dumps(SUMMARY),
        "[]\n" + json.dumps(SUMMARY),  # not an object
    ],
)
def test_anything_else_runs_each_command_alone(combined: str) -> None:
    both = ("show bgp vrf all neighbors json", "show bgp vrf all summary json")
    drv = _Scripted({both: combined, both[:1]: "", both[1:]: json.dumps(SUMMARY)})
    docs, rest = drv._vtysh_leading_json(*both)
    assert docs == [{}, SUMMARY] and rest == ""  # what the one-command path makes of each
    assert drv.runs == [both, both[:1], both[1:]]


def test_one_interface_read_serves_the_getters_of_a_round_and_a_commit_forgets_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    iface = {"eth1": {"operationalStatus": "up", "administrativeStatus": "up", "ipAddresses": []}}
    drv = _Scripted({("show interface json",): json.dumps(iface)})
    clock = [100.0]
    monkeypatch.setattr("netimmutable.drivers.frr.driver.time.monotonic", lambda: clock[0])

    drv.get_interfaces()
    drv.get_interfaces_ip()  # the same round: no second read
    assert drv.runs == [("show interface json",)]

    clock[0] += 1.0  # the next round reads again
    drv.get_interfaces()
    assert len(drv.runs) == 2

    drv.get_interfaces()
    drv.commit_config()  # nothing loaded: the router is not touched, but what was read is forgotten
    drv.get_interfaces_ip()
    assert len(drv.runs) == 3
