"""A host whose checks fail only by prefixes lost through another host of its batch waits for that host and
checks again (issue 12 item 6: "a parallel batch blames the wrong host"). r1's own change is harmless; r3,
changed in the same batch, costs r1 the prefixes it learns through r2 until r3 is rolled back."""

from __future__ import annotations

import threading
from typing import Any

from netimmutable.batch_board import BatchBoard
from netimmutable.deploy_model import HostJob
from netimmutable.errors import DeviceError, Unsupported
from netimmutable.outcomes import HostOutcome
from netimmutable.push import run_host
from tests.unit.scripted_device import NEW, OLD, ScriptedDevice, env


class R1(ScriptedDevice):
    """r1, peering with r2 (10.0.0.2, which does not change): the prefixes r2 passes on come from r3."""

    def __init__(self) -> None:
        super().__init__()
        self.commits = 0
        self.r3_fault = True

    def interfaces(self) -> dict[str, Any]:
        return {}

    def bgp_neighbors_detail(self) -> dict[str, Any]:
        raise Unsupported("get_bgp_neighbors_detail: not supported by this driver", host="r1")

    def commit(self, message: str, revert_in: int | None) -> None:
        super().commit(message, revert_in)
        self.commits += 1
        if self.commits == 1:
            self.prefixes = 1  # r3 changes at the same moment: r1 loses what came through r2
        elif self.running == OLD and not self.r3_fault:
            self.prefixes = 4  # the loss was r1's own: its rollback brings the prefixes back


def _run(device: R1, board: BatchBoard | None) -> Any:
    job = HostJob("r1", "frr", "new", NEW, None, False, "old", OLD, alongside=("r3",))
    return run_host(job, env(device, settle_timeout=0.5, settle_interval=0.05, soak=0.3, board=board))


def _r3_rolls_back_after(board: BatchBoard, device: R1, seconds: float, restores: bool) -> threading.Timer:
    def done() -> None:
        if restores:
            device.prefixes = 4  # r3 back on its last-good: r1 learns the prefixes again
        board.finished("r3")

    timer = threading.Timer(seconds, done)
    timer.start()
    return timer


def test_prefixes_lost_through_a_host_changed_alongside_wait_for_it_then_hold() -> None:
    device, board = R1(), BatchBoard(["r1", "r3"])
    r3 = _r3_rolls_back_after(board, device, 0.8, restores=True)

    result = _run(device, board)
    r3.join()

    assert result.outcome is HostOutcome.DEPLOYED, result
    assert device.running == NEW and device.commits == 1  # not rolled back for r3's fault
    assert any("checked again once they had ended: held" in note for note in result.notes), result.notes


def test_prefixes_still_lost_after_the_others_ended_roll_back_naming_them() -> None:
    device, board = R1(), BatchBoard(["r1", "r3"])
    device.r3_fault = False  # r3 ends, and the prefixes stay lost: r1's own change
    r3 = _r3_rolls_back_after(board, device, 0.3, restores=False)

    result = _run(device, board)
    r3.join()

    assert result.outcome is HostOutcome.ROLLED_BACK, result
    lost = [f for f in result.failures if "received 4 prefixes before the change, 1 now" in f]
    assert lost and lost[0].endswith("(also changed in this batch: r3)"), result.failures
    assert any("still failing" in note for note in result.notes), result.notes


def test_a_device_error_while_checking_again_rolls_back_never_escapes() -> None:
    class Failing(R1):
        fail_once = False

        def bgp_neighbors(self) -> dict[str, Any]:
            if self.fail_once:
                self.fail_once = False
                raise DeviceError("get_bgp_neighbors: connection reset", host="r1")
            return super().bgp_neighbors()

    device, board = Failing(), BatchBoard(["r1", "r3"])
    device.r3_fault = False

    def r3_done() -> None:
        device.fail_once = True  # the re-check's first read fails
        board.finished("r3")

    timer = threading.Timer(1.0, r3_done)  # r1 waits by then (its first checks end after 0.5 s)
    timer.start()
    result = _run(device, board)
    timer.join()

    assert result.outcome is HostOutcome.ROLLED_BACK, result
    assert "post-check could not run" in result.message and device.running == OLD
