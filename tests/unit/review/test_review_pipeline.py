"""Review findings on the per-host pipeline and the checks, on a scripted device (no lab needed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netimmutable.checks import BgpPeerState, ChangeScope, InterfaceState, StateSnapshot, regressions
from netimmutable.deploy_model import HostJob, PipelineEnv
from netimmutable.errors import ConfigRejected
from netimmutable.outcomes import HostOutcome
from netimmutable.push import run_host

OLD = "hostname r1\nrouter bgp 65001\n neighbor 10.0.0.2 remote-as 65002\n"
NEW = OLD + "ip route 10.9.0.0/24 blackhole\n"


class ScriptedDevice:
    """Keeps a candidate per session like EOS config sessions / Junos candidate datastores do: a refused
    commit leaves the candidate loaded until it is discarded."""

    name = "r1"
    platform = "frr"

    def __init__(self) -> None:
        self.running = OLD
        self.candidate: str | None = None
        self.calls: list[str] = []

    def running_config(self) -> str:
        return self.running

    def facts(self) -> dict[str, Any]:
        return {"hostname": "r1"}

    def interfaces(self) -> dict[str, Any]:
        return {"eth1": {"is_up": True, "is_enabled": True}}

    def bgp_neighbors(self) -> dict[str, Any]:
        return {"global": {"peers": {"10.0.0.2": {"remote_as": 65002, "is_up": True, "is_enabled": True}}}}

    def compliance(
        self, expectations_yaml: str, label: str = "", known: Mapping[str, Mapping[str, Any]] | None = None
    ) -> dict[str, Any]:
        return {"complies": True, "skipped": []}

    def load_replace(self, config: str) -> None:
        self.calls.append("load")
        self.candidate = config

    def compare(self) -> str:
        return "" if self.candidate == self.running else "+ip route 10.9.0.0/24 blackhole"

    def discard(self) -> None:
        self.calls.append("discard")
        self.candidate = None

    def commit(self, message: str, revert_in: int | None) -> None:
        self.calls.append("commit")
        raise ConfigRejected("commit_config: device refused: % commit failed: validation error", host="r1")

    def confirm(self) -> None:
        self.calls.append("confirm")

    def has_pending_commit(self) -> bool:
        return False

    def rollback_driver(self) -> None:
        self.calls.append("rollback")

    def close(self) -> None:
        self.calls.append("close")


def test_a_refused_commit_leaves_no_candidate_behind() -> None:
    device = ScriptedDevice()
    env = PipelineEnv(
        open_device=lambda: device,
        resolve=lambda text: text,
        mask=lambda text: text,
        mark_good=lambda host, release: None,
        settle_timeout=0.0,
        settle_interval=0.0,
        commit_message="test",
    )
    job = HostJob("r1", "frr", "new", NEW, None, False, "old", OLD)

    result = run_host(job, env)

    assert result.outcome is HostOutcome.FAILED and result.cause == "rejected", result
    assert "validation error" in result.message
    assert device.running == OLD
    assert device.candidate is None, device.calls  # discarded, not left open on the device
    assert device.calls.index("discard") > device.calls.index("commit")
    assert device.calls[-1] == "close"


# --------------------------------------------------------------------------- regressions
UP = BgpPeerState("global", "10.0.0.2", 65002, True, True, 4)


def test_bgp_getter_failing_only_after_the_change_is_a_regression_not_a_pass() -> None:
    """A getter that worked before the change and reports "not supported" after it proves nothing: the
    sessions it covered must not be excused as if the platform never had it."""
    pre = StateSnapshot("r1", None, (), (UP,))
    post = StateSnapshot("r1", None, (), (), unsupported=("get_bgp_neighbors",))

    found = regressions(pre, post, ChangeScope())

    assert found and "get_bgp_neighbors" in found[0] and "10.0.0.2" in found[0], found


def test_interface_getter_failing_only_after_the_change_is_a_regression_not_a_pass() -> None:
    pre = StateSnapshot("r1", None, (InterfaceState("eth1", True, True),), ())
    post = StateSnapshot("r1", None, (), (), unsupported=("get_interfaces",))

    found = regressions(pre, post, ChangeScope())

    assert found and "get_interfaces" in found[0] and "eth1" in found[0], found


def test_getters_unsupported_before_and_after_still_excuse_nothing_and_fail_nothing() -> None:
    pre = StateSnapshot("r1", None, (), (), unsupported=("get_bgp_neighbors", "get_interfaces"))
    post = StateSnapshot("r1", None, (), (), unsupported=("get_bgp_neighbors", "get_interfaces"))
    assert regressions(pre, post, ChangeScope()) == ()
    # a release that removes every session the getter covered excuses the getter going away too
    pre_up = StateSnapshot("r1", None, (), (UP,))
    post_gone = StateSnapshot("r1", None, (), (), unsupported=("get_bgp_neighbors",))
    assert regressions(pre_up, post_gone, ChangeScope(neighbors=frozenset({"10.0.0.2"}))) == ()
