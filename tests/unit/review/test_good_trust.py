"""Good refs are checked before use (issue 13 item 5): rollback, the deploy's drift gate, verify, recover and
`records fetch` use `refs/netimmutable/good/<host>` only when it points at an approved release by content,
or a run recorded it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from netimmutable.errors import UntrustedGoodRef
from netimmutable.records import good_ref
from tests.unit.review.conftest import Net

__all__: list[str] = []

SCHEMA = Path(__file__).parents[3] / "netimmutable" / "schemas" / "verify-report.schema.json"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _forged(net: Net, host: str = "r1") -> str:
    """A commit on no branch whose snapshot of ``host`` was edited by hand (not what its inputs render)."""
    _git(net.root, "checkout", "-q", "-b", "forge")
    cfg = net.root / "snapshots" / f"{host}.cfg"
    cfg.write_text(cfg.read_text() + "ip route 10.66.0.0/16 blackhole\n")
    _git(net.root, "commit", "-q", "-am", "hand edit")
    sha = _git(net.root, "rev-parse", "HEAD")
    _git(net.root, "checkout", "-q", "main")
    _git(net.root, "branch", "-q", "-D", "forge")
    return sha


def _generations(net: Net) -> dict[str, int]:
    return {h: net.lab.state(h).generation for h in net.lab.hosts()}


def test_rollback_to_a_forged_good_ref_is_refused(net: Net) -> None:
    forged = _forged(net)
    _git(net.root, "update-ref", good_ref("r1"), forged)
    before = _generations(net)

    with pytest.raises(UntrustedGoodRef, match=r"r1.*not reachable from the approval branch"):
        net.rollback(["r1"])
    result = net.cli("rollback", "r1", "--yes")

    assert result.exit_code == 1 and good_ref("r1") in result.output
    assert _generations(net) == before
    assert "10.66.0.0" not in net.lab.running("r1")


def test_a_hand_edited_release_on_main_as_good_ref_is_refused_too(net: Net) -> None:
    """Reachable from main, but not a release by content, and no run recorded it."""
    cfg = net.root / "snapshots" / "r1.cfg"
    cfg.write_text(cfg.read_text() + "ip route 10.66.0.0/16 blackhole\n")
    _git(net.root, "commit", "-q", "-am", "hand edit on main")
    _git(net.root, "update-ref", good_ref("r1"), "HEAD")
    _git(net.root, "revert", "--no-edit", "HEAD")  # main is a release again
    before = _generations(net)

    with pytest.raises(UntrustedGoodRef, match=r"r1\.cfg"):
        net.rollback(["r1"])
    assert _generations(net) == before


def test_deploy_refuses_a_host_whose_good_ref_is_forged(net: Net) -> None:
    _git(net.root, "update-ref", good_ref("r2"), _forged(net, "r2"))
    net.announce("r1", "10.255.230.0/24")
    before = _generations(net)

    with pytest.raises(UntrustedGoodRef, match="r2"):
        net.deploy()

    assert _generations(net) == before


def test_verify_reports_an_untrusted_baseline(net: Net) -> None:
    _git(net.root, "update-ref", good_ref("r1"), _forged(net))
    out = net.root.parent / "out"
    out.mkdir()

    result = net.cli("verify", "-o", str(out / "v.json"), "-o", str(out / "v.xml"))

    assert result.exit_code == 1, result.output
    data = json.loads((out / "v.json").read_text())
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    states = {h["host"]: h["state"] for h in data["hosts"]}
    assert states == {"r1": "untrusted-baseline", "r2": "in-sync", "r3": "in-sync", "r4": "in-sync"}
    assert data["summary"]["untrusted-baseline"] == 1
    junit = (out / "v.xml").read_text()
    assert 'name="r1"' in junit and "untrusted-baseline" in junit
    text = net.cli("verify")
    assert "r1" in text.output and "untrusted-baseline" in text.output


def test_a_release_deployed_with_allow_stale_stays_trusted_because_a_run_recorded_it(net: Net) -> None:
    cfg = net.root / "snapshots" / "r1.cfg"
    cfg.write_text(cfg.read_text() + "ip route 10.68.0.0/16 blackhole\n")
    _git(net.root, "commit", "-q", "-am", "hand edit, deployed on purpose")
    report = net.deploy(limit=("r1",), allow_stale=True)
    assert report.exit_code == 0, report

    result = net.cli("verify", "--limit", "r1", "--format", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["hosts"][0]["state"] == "in-sync"


def test_records_fetch_does_not_move_a_good_ref_to_a_forged_commit(net: Net, tmp_path: Path) -> None:
    remote = tmp_path / "shared.git"
    _git(tmp_path, "init", "-q", "--bare", str(remote))
    _git(net.root, "remote", "add", "origin", str(remote))
    _git(net.root, "push", "-q", "origin", "main", "refs/netimmutable/*:refs/netimmutable/*")
    other = tmp_path / "other"
    _git(tmp_path, "clone", "-q", "-b", "main", str(remote), str(other))
    _git(other, "fetch", "-q", "origin", "refs/netimmutable/*:refs/netimmutable/*")
    # someone with push access forges r1's mark on the shared remote (ref and good-log entry)
    cfg = other / "snapshots" / "r1.cfg"
    cfg.write_text(cfg.read_text() + "ip route 10.66.0.0/16 blackhole\n")
    _git(other, "commit", "-q", "-am", "forged")
    forged = _git(other, "rev-parse", "HEAD")
    log = json.loads(_git(other, "show", "refs/netimmutable/good-log:good.json"))
    log["hosts"]["r1"] = {**log["hosts"]["r1"], "release": forged, "when_utc": "2999-01-01T00:00:00Z"}
    blob = subprocess.run(
        ["git", "-C", str(other), "hash-object", "-w", "--stdin"],
        input=json.dumps(log),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    tree = subprocess.run(
        ["git", "-C", str(other), "mktree"],
        input=f"100644 blob {blob}\tgood.json\n",
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    parent = _git(other, "rev-parse", "refs/netimmutable/good-log")
    commit = _git(other, "commit-tree", tree, "-p", parent, "-m", "forged mark")
    _git(
        other,
        "push",
        "-q",
        "-f",
        "origin",
        f"{commit}:refs/netimmutable/good-log",
        f"{forged}:{good_ref('r1')}",
    )
    before = _git(net.root, "rev-parse", good_ref("r1"))

    result = net.cli("records", "fetch", "origin")

    assert result.exit_code == 1, result.output
    assert good_ref("r1") in result.output
    assert _git(net.root, "rev-parse", good_ref("r1")) == before
    assert net.records().last_good("r1").release == before  # type: ignore[union-attr]
    assert net.rollback(["r1"]).exit_code == 0  # the local record is still trusted


def test_recover_does_not_roll_back_to_a_forged_good_ref(net: Net) -> None:
    """A killed run whose journal names no rollback target: recover falls back to the good ref, but only a
    trusted one; a forged ref leaves the host for a person (device not pushed to the forged config)."""
    from netimmutable.artifacts import open_git
    from netimmutable.inventory import load_inventory
    from netimmutable.recover import recover
    from tests.unit.records_fixtures import dead_run_journal

    new = net.announce("r1", "10.255.250.0/24")
    assert net.deploy(limit=("r1",)).exit_code == 0  # r1 runs `new`, good ref at `new`
    _git(net.root, "update-ref", good_ref("r1"), _forged(net))
    dead_run_journal(net.repo, "run-dead", new, "r1")  # no rollback_release, no blob
    net.lab.edit("r1", add=["ip route 10.99.0.0/16 blackhole"])  # the device is off every release

    report = recover(net.repo, open_git(net.repo), load_inventory(net.repo))

    [host] = report.hosts
    assert "not trusted" in host.message, host
    assert "10.66.0.0" not in net.lab.running("r1")
