"""The frr driver's ``read_together`` without a router: the real driver code runs its shell commands in a
local ``sh``, where a double of FRR's ``vtysh`` answers each ``-c`` command from a file.

The double follows vtysh 8.4 as observed on the lab's routers: several ``-c`` commands print their outputs
one after the other, with nothing between them; an unknown command prints ``% Unknown command: ...`` and
vtysh exits 1 without running the commands after it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from napalm.base.exceptions import CommandErrorException

from netimmutable.drivers.frr import driver as frr_driver
from netimmutable.drivers.frr.driver import READ_REUSE, FrrDriver
from netimmutable.drivers.frr.transport import CommandResult

INTERFACES = {
    "eth1": {
        "operationalStatus": "up",
        "administrativeStatus": "up",
        "ipAddresses": [{"address": "10.255.12.2/30"}],
    },
    "lo": {"operationalStatus": "up", "administrativeStatus": "up", "ipAddresses": []},
}
NEIGHBORS = {
    "default": {
        "10.255.12.1": {
            "remoteAs": 65001,
            "localAs": 65002,
            "bgpState": "Established",
            "bgpTimerUpMsec": 5000,
            "addressFamilyInfo": {"ipv4Unicast": {"acceptedPrefixCounter": 3, "sentPrefixCounter": 2}},
        }
    }
}
SUMMARY = {"default": {"ipv4Unicast": {"routerId": "10.255.255.2", "peers": {"10.255.12.1": {"pfxRcd": 3}}}}}
VERSION = "FRRouting 8.4.4 (r2) on Linux(6.1.0).\nCopyright 1996-2005 Kunihiro Ishiguro, et al.\n"
RUNNING = "frr version 8.4.4\nfrr defaults traditional\nhostname r2\n!\nrouter bgp 65002\nexit\n!\nend\n"
ROUND = ("get_facts", "get_interfaces", "get_bgp_neighbors")
POST = ("get_bgp_neighbors_detail", "get_config", *ROUND)

VTYSH = """#!/bin/sh
# double of FRR's vtysh: each -c command's output from $FAKE_VTYSH/<command, spaces as _>; logs each start
printf '%s\\n' "$*" >> "$FAKE_VTYSH/starts.log"
while [ $# -gt 0 ]; do
    if [ "$1" = -c ]; then
        shift
        f="$FAKE_VTYSH/$(printf %s "$1" | tr ' ' _)"
        if [ -f "$f" ]; then cat "$f"; else echo "% Unknown command: $1"; exit 1; fi
    fi
    shift
done
"""


class LocalShell:
    """The driver's transport, running each command in a local ``sh`` (like ``SshTransport`` runs it in
    the router's shell): the real driver code builds and parses every command."""

    def __init__(self, folder: Path) -> None:
        self.env = {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}", "FAKE_VTYSH": str(folder)}
        self.commands: list[str] = []

    def run(self, command: str, *, stdin: str | None = None, timeout: float | None = None) -> CommandResult:
        self.commands.append(command)
        done = subprocess.run(
            ["/bin/sh", "-c", command],
            input=stdin or "",
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
        )
        return CommandResult(command, done.returncode, done.stdout, done.stderr)

    def check(self, command: str, *, stdin: str | None = None, timeout: float | None = None) -> CommandResult:
        result = self.run(command, stdin=stdin, timeout=timeout)
        if not result.ok:
            raise CommandErrorException(f"`{command}` exited {result.exit_status}: {result.output}")
        return result


class Router:
    """A driver on the local shell, and what its vtysh double answers."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "vtysh").write_text(VTYSH)
        (folder / "vtysh").chmod(0o755)
        self.answer("show interface json", json.dumps(INTERFACES, indent=2) + "\n")
        self.answer("show bgp vrf all neighbors json", json.dumps(NEIGHBORS, indent=2) + "\n")
        self.answer("show bgp vrf all summary json", json.dumps(SUMMARY) + "\n")
        self.answer("show version", VERSION)
        self.answer("show running-config no-header", RUNNING)
        self.shell = LocalShell(folder)
        self.driver = FrrDriver("r2", "root", "")
        self.driver._ssh = self.shell  # type: ignore[assignment]  # the transport double

    def answer(self, command: str, text: str | None) -> None:
        path = self.folder / command.replace(" ", "_")
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text)

    @property
    def starts(self) -> list[str]:
        log = self.folder / "starts.log"
        return log.read_text().splitlines() if log.exists() else []

    def round(self) -> tuple[dict[str, Any], ...]:
        drv = self.driver
        return drv.get_facts(), drv.get_interfaces(), drv.get_bgp_neighbors(), drv.get_interfaces_ip()

    def post(self) -> tuple[dict[str, Any], ...]:
        """What push asks right after a commit: hold times, the running config, then a round."""
        drv = self.driver
        return drv.get_bgp_neighbors_detail(), drv.get_config(retrieve="running"), *self.round()


def _same(a: tuple[dict[str, Any], ...], b: tuple[dict[str, Any], ...], facts_at: int = 0) -> bool:
    """Equal but for the uptime (read a moment apart)."""
    a, b = copy.deepcopy(a), copy.deepcopy(b)
    for facts in (a[facts_at], b[facts_at]):
        assert isinstance(facts["uptime"], float) and facts["uptime"] >= 0
        facts["uptime"] = 0.0
    return a == b


@pytest.fixture
def router(tmp_path: Path) -> Router:
    return Router(tmp_path)


def test_a_round_read_together_is_one_exec_and_one_vtysh_start_and_answers_as_the_getters_alone(
    router: Router,
) -> None:
    alone = router.round()
    assert len(router.starts) == 2 and len(router.shell.commands) == 3  # interfaces+version, ps, BGP

    router.shell.commands.clear()
    before = len(router.starts)
    router.driver.read_together(ROUND)
    together = router.round()
    assert len(router.shell.commands) == 1 and len(router.starts) == before + 1
    assert _same(alone, together)
    assert together[0]["hostname"] == "r2" and together[0]["os_version"] == "8.4.4"
    assert together[2]["global"]["peers"]["10.255.12.1"]["address_family"]["ipv4"]["received_prefixes"] == 3


def test_hold_times_running_config_and_a_round_after_a_commit_are_one_read(router: Router) -> None:
    alone = router.post()
    assert alone[1]["running"] == RUNNING
    router.shell.commands.clear()
    before = len(router.starts)
    router.driver.read_together(POST)
    router.driver.read_together(("get_config", *ROUND))  # post_check announcing what is already read
    router.driver.read_together(ROUND)  # and its first round
    together = router.post()
    assert len(router.shell.commands) == 1 and len(router.starts) == before + 1
    assert _same(alone, together, facts_at=2)


def test_the_running_config_alone_is_the_whole_text_after_the_json(router: Router) -> None:
    router.driver.read_together(("get_config", "get_bgp_neighbors"))
    assert router.driver.get_config(retrieve="running")["running"] == RUNNING
    assert len(router.shell.commands) == 1


def test_an_announcement_with_a_getter_that_already_answered_reads_again(router: Router) -> None:
    router.driver.read_together(ROUND)
    router.driver.get_bgp_neighbors()
    router.answer("show bgp vrf all neighbors json", json.dumps({"default": {}}) + "\n")
    router.driver.read_together(ROUND)  # the next round: a read of its own
    assert len(router.shell.commands) == 2
    assert router.driver.get_bgp_neighbors()["global"]["peers"] == {}


def test_only_the_running_config_answers_from_the_read(router: Router) -> None:
    router.driver.read_together(("get_config",))
    config = router.driver.get_config()  # all: running, startup, candidate: read as usual
    assert config["running"] == RUNNING and len(router.shell.commands) > 1


def test_each_getter_answers_from_the_read_once(router: Router) -> None:
    router.driver.read_together(ROUND)
    router.answer("show bgp vrf all neighbors json", json.dumps({"default": {}}) + "\n")
    first = router.driver.get_bgp_neighbors()  # from the read: as the router was
    assert list(first["global"]["peers"]) == ["10.255.12.1"]
    starts = len(router.starts)
    again = router.driver.get_bgp_neighbors()  # asked twice: the second is a read of its own
    assert len(router.starts) == starts + 1 and again["global"]["peers"] == {}


def test_a_getter_asked_later_than_the_reuse_window_reads_the_router(
    router: Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [100.0]
    monkeypatch.setattr(frr_driver.time, "monotonic", lambda: clock[0])
    router.driver.read_together(ROUND)
    router.answer("show bgp vrf all neighbors json", json.dumps({"default": {}}) + "\n")
    clock[0] += READ_REUSE + 0.01
    assert router.driver.get_bgp_neighbors()["global"]["peers"] == {}  # what the router says now


def test_getters_not_named_read_the_router(router: Router) -> None:
    router.driver.read_together(("get_facts",))
    assert "bgp" not in router.shell.commands[-1]  # only what get_facts needs was read
    router.answer("show bgp vrf all neighbors json", json.dumps({"default": {}}) + "\n")
    assert router.driver.get_bgp_neighbors()["global"]["peers"] == {}


@pytest.mark.parametrize("step", ["commit_config", "confirm_commit", "rollback"])
def test_a_commit_confirm_or_rollback_forgets_the_read(router: Router, step: str) -> None:
    router.driver.read_together(ROUND)
    router.answer("show bgp vrf all neighbors json", json.dumps({"default": {}}) + "\n")
    with contextlib.suppress(Exception):  # nothing loaded or pending here: they fail or do nothing
        getattr(router.driver, step)()
    assert router.driver.get_bgp_neighbors()["global"]["peers"] == {}


@pytest.mark.parametrize(
    "neighbors",
    [
        None,  # the command fails (vtysh exits 1 at it)
        "% bgpd is not running\n",  # no JSON: the outputs after it would shift
        "[]\n",  # JSON, not an object
    ],
)
def test_an_unexpected_answer_keeps_nothing_and_each_getter_reads_on_its_own(
    router: Router, neighbors: str | None
) -> None:
    router.answer("show bgp vrf all neighbors json", neighbors)
    drv = router.driver

    def alone() -> tuple[Any, ...]:
        facts, interfaces = drv.get_facts(), drv.get_interfaces()
        try:
            bgp: Any = drv.get_bgp_neighbors()
        except CommandErrorException as exc:
            bgp = type(exc)
        return facts, interfaces, bgp

    expected = alone()
    commands = len(router.shell.commands)
    drv.read_together(ROUND)
    assert len(router.shell.commands) == commands + 1
    got = alone()
    assert len(router.shell.commands) > commands + 1  # the getters read again: nothing was kept
    assert _same((*expected[:2], {}), (*got[:2], {})) and expected[2] == got[2]


@pytest.mark.parametrize(
    "running",
    [
        "frr version 8.4.4\nhostname r2\n",  # no end line: not all of it, or not a running config
        "frr version 8.4.4\nhostname r2\nend\nsomething else\n",  # text between it and show version
    ],
)
def test_a_running_config_that_does_not_split_cleanly_keeps_nothing(router: Router, running: str) -> None:
    router.answer("show running-config no-header", running)
    router.driver.read_together(("get_config", *ROUND))
    assert router.driver._together is None
    assert router.driver.get_config(retrieve="running")["running"] == running  # read on its own


def test_the_status_after_the_marker_is_vtysh_s_own(router: Router) -> None:
    """vtysh printing every output yet failing (exit 1 after them) keeps nothing either."""
    router.answer("show version", None)  # the last command fails, after the JSON was printed
    router.driver.read_together(ROUND)
    assert router.driver._together is None
