"""Each override skips only its own check, and every one is recorded (issue 14, item 4).

``--allow-dirty`` skips the clean-tree check, ``--allow-stale`` the release-by-content check,
``--force-drift`` the drift check of a host: none of them skips another's check, and each one used is in
the run record's flags. The issue's case: a hand-edited snapshot committed with a copied digest trailer,
deployed with ``--allow-dirty`` alone, was pushed, and only ``--allow-dirty`` was recorded.
"""

from __future__ import annotations

import itertools
import subprocess

import pytest

from netimmutable.errors import ApprovalError
from netimmutable.outcomes import HostOutcome
from tests.unit.deploy.conftest import Net

OVERRIDES = ("allow_dirty", "allow_stale", "force_drift")
FLAG = {"allow_dirty": "--allow-dirty", "allow_stale": "--allow-stale", "force_drift": "--force-drift"}
HAND_EDIT = "ip route 10.66.0.0/16 blackhole\n"


def _git(net: Net, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(net.root), *args], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def _hand_edited_release(net: Net) -> str:
    """The issue's commit: r1's snapshot edited by hand, committed with the digest trailer of a release."""
    release = net.announce("r1", "10.255.77.0/24")
    trailers = [line for line in _git(net, "log", "-1", "--format=%B").splitlines() if ": " in line]
    snapshot = net.root / "snapshots" / "r1.cfg"
    snapshot.write_text(snapshot.read_text().replace("end\n", HAND_EDIT + "end\n"))
    _git(net, "commit", "-q", "-am", "r1: tweak\n\n" + "\n".join(trailers))
    assert _git(net, "rev-parse", "HEAD") != release
    return _git(net, "rev-parse", "HEAD")


@pytest.fixture
def everything_to_override(net: Net) -> Net:
    """HEAD is no release by content, the working tree is dirty, and r1 has drifted."""
    _hand_edited_release(net)
    (net.root / "notes.txt").write_text("uncommitted work\n")
    net.lab.edit("r1", add=["ip route 10.9.0.0/24 blackhole"])
    return net


@pytest.mark.parametrize(
    "given",
    [c for n in range(len(OVERRIDES)) for c in itertools.combinations(OVERRIDES, n)],
    ids=lambda c: "+".join(c) or "none",
)
def test_each_override_skips_only_its_own_check(everything_to_override: Net, given: tuple[str, ...]) -> None:
    net = everything_to_override
    before = net.lab.running("r1")
    runs = len(net.records().runs(limit=100))
    options = dict.fromkeys(given, True)
    if "allow_dirty" in given and "allow_stale" in given:  # only the drift check is left: r1 is refused
        report = net.deploy(limit=("r1",), **options)
        r1 = report.host("r1")
        assert r1 is not None and r1.outcome is HostOutcome.REFUSED and r1.cause == "drift", r1
        recorded = net.records().runs(limit=1)[0].flags
        assert {f for f in recorded if f in FLAG.values()} == {FLAG[o] for o in given}
    else:
        with pytest.raises(ApprovalError) as info:
            net.deploy(limit=("r1",), **options)
        expected = "not clean" if "allow_dirty" not in given else "is not a release"
        assert expected in info.value.message, info.value.message
        assert len(net.records().runs(limit=100)) == runs  # refused before any run began
    assert net.lab.running("r1") == before


def test_all_three_overrides_push_and_all_three_are_recorded(everything_to_override: Net) -> None:
    net = everything_to_override
    report = net.deploy(limit=("r1",), **dict.fromkeys(OVERRIDES, True))
    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.DEPLOYED, r1
    assert HAND_EDIT.strip() in net.lab.running("r1")
    recorded = net.records().runs(limit=1)[0].flags
    assert {"--allow-dirty", "--allow-stale", "--force-drift"} <= set(recorded)


def test_rollback_to_a_release_with_a_dirty_tree_records_that_the_clean_tree_check_was_skipped(
    net: Net,
) -> None:
    """`rollback --to` pushes git objects only, so it accepts a dirty working tree (an emergency path): the
    skipped check is recorded as for `deploy --allow-dirty`."""
    net.announce("r1", "10.255.78.0/24")
    assert net.deploy(limit=("r1",)).exit_code == 0
    (net.root / "notes.txt").write_text("uncommitted work\n")
    report = net.rollback(["r1"], to_rev=net.first)
    assert report.exit_code == 0, report
    assert "--allow-dirty" in net.records().runs(limit=1)[0].flags
    (net.root / "notes.txt").unlink()
    net.rollback(["r1"], to_rev=_git(net, "rev-parse", "HEAD"))
    assert "--allow-dirty" not in net.records().runs(limit=1)[0].flags
