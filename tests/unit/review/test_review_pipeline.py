"""Review findings on the per-host pipeline and the checks, on a scripted device (no lab needed)."""

from __future__ import annotations

from typing import Any

from netimmutable.checks import BgpPeerState, ChangeScope, InterfaceState, StateSnapshot, regressions
from netimmutable.deploy_model import HostJob
from netimmutable.errors import ConfigRejected
from netimmutable.outcomes import HostOutcome
from netimmutable.push import run_host
from tests.unit.scripted_device import NEW, OLD, ScriptedDevice, env


class RefusingDevice(ScriptedDevice):
    """Keeps a candidate per session like EOS config sessions / Junos candidate datastores do: a refused
    commit leaves the candidate loaded until it is discarded."""

    def bgp_neighbors(self) -> dict[str, Any]:
        return {"global": {"peers": {"10.0.0.2": {"remote_as": 65002, "is_up": True, "is_enabled": True}}}}

    def commit(self, message: str, revert_in: int | None) -> None:
        self.calls.append("commit")
        raise ConfigRejected("commit_config: device refused: % commit failed: validation error", host="r1")


def test_a_refused_commit_leaves_no_candidate_behind() -> None:
    device = RefusingDevice()
    job = HostJob("r1", "frr", "new", NEW, None, False, "old", OLD)

    result = run_host(job, env(device))

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
