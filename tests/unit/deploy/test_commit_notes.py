"""What a driver had to do beyond its usual path in a commit (the frr driver's fallback when frr-reload.py
cannot delete a block, or reported a failure although the config converged) is said: in the deploy's notes
for the change, in the host's message for the rollback (issue 15 item 7)."""

from __future__ import annotations

from netimmutable.deploy_model import HostJob
from netimmutable.outcomes import HostOutcome
from netimmutable.push import run_host
from tests.unit.scripted_device import NEW, OLD, ScriptedDevice, env

FALLBACK = "frr-reload.py could not remove `interface dummy9`; removed whole with `no interface` instead"


class FallbackDevice(ScriptedDevice):
    """The new release takes the BGP session down; the rollback's full replace needed the fallback."""

    def __init__(self) -> None:
        super().__init__()
        self.commit_notes: tuple[str, ...] = ()

    def peer_up(self) -> bool:
        return self.running == OLD

    def commit(self, message: str, revert_in: int | None) -> None:
        back = self.candidate == OLD
        super().commit(message, revert_in)
        self.commit_notes = (FALLBACK,) if back else ("frr-reload.py reported a failure yet it matches",)


def test_the_rollback_message_says_what_the_driver_fell_back_to() -> None:
    device = FallbackDevice()
    job = HostJob("r1", "frr", "new", NEW, None, False, "old", OLD)

    result = run_host(job, env(device))

    assert result.outcome is HostOutcome.ROLLED_BACK, result
    assert device.running == OLD
    assert result.message.endswith(f"and verified; {FALLBACK}"), result.message
    assert "commit: frr-reload.py reported a failure yet it matches" in result.notes
