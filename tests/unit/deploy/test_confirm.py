"""`deploy` and `rollback` show what will happen and ask on a terminal; --yes skips; no terminal: refused."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from netimmutable.cli import deploy_commands, main
from tests.unit.deploy.conftest import Net

__all__: list[str] = []


def _generations(net: Net) -> dict[str, int]:
    return {h: net.lab.state(h).generation for h in net.lab.hosts()}


def _runs(net: Net) -> int:
    return len(net.records().runs(limit=100))


def _invoke(net: Net, *args: str, answer: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--repo", str(net.root)], input=answer, catch_exceptions=False)
    return result.exit_code, result.output


def test_without_a_terminal_and_without_yes_deploy_and_rollback_refuse(net: Net) -> None:
    release = net.announce("r1", "10.255.210.0/24")
    before, runs = _generations(net), _runs(net)

    for args in (("deploy",), ("rollback", "r1", "--to", net.first)):
        code, out = _invoke(net, *args)
        assert code == 1, out
        assert "--yes" in out and "terminal" in out

    assert _generations(net) == before and _runs(net) == runs
    code, out = _invoke(net, "deploy", "--yes")
    assert code == 0, out
    assert net.records().last_good("r1").release == release  # type: ignore[union-attr]


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deploy_commands, "stdin_is_terminal", lambda: True)


@pytest.mark.usefixtures("terminal")
def test_on_a_terminal_deploy_shows_the_window_and_a_no_touches_nothing(net: Net) -> None:
    release = net.announce("r1", "10.255.211.0/24")
    before, runs = _generations(net), _runs(net)

    code, out = _invoke(net, "deploy", "--revert-in", "0", answer="n\n")

    assert code == 1, out
    assert release[:10] in out
    assert "r1: +2 -0 lines" in out and "r2: no change" in out
    assert "batch(es)" in out
    assert "no device-side revert timer on: r1, r2, r3, r4" in out
    assert _generations(net) == before and _runs(net) == runs


@pytest.mark.usefixtures("terminal")
def test_on_a_terminal_yes_goes_ahead(net: Net) -> None:
    release = net.announce("r1", "10.255.212.0/24")

    code, out = _invoke(net, "deploy", answer="y\n")

    assert code == 0, out
    assert "10.255.212.0/24" in net.lab.running("r1")
    assert net.records().last_good("r1").release == release  # type: ignore[union-attr]


@pytest.mark.usefixtures("terminal")
def test_on_a_terminal_rollback_asks_too(net: Net) -> None:
    net.announce("r1", "10.255.213.0/24")
    assert net.deploy().exit_code == 0
    before = _generations(net)

    code, out = _invoke(net, "rollback", "r1", "--to", net.first, answer="n\n")

    assert code == 1, out
    assert f"r1: +0 -2 lines vs running -> {net.first[:10]}" in out  # the device's lines it would drop
    assert _generations(net) == before
    assert "10.255.213.0/24" in net.lab.running("r1")


def test_with_yes_the_summary_is_printed_then_the_window_runs(net: Net) -> None:
    """A CI log shows what was intended: the same summary as on a terminal, then the window."""
    release = net.announce("r1", "10.255.214.0/24")

    code, out = _invoke(net, "deploy", "--yes")

    assert code == 0, out
    assert f"deploy: release {release[:10]}" in out
    assert "r1: +2 -0 lines vs last-good" in out and "r2: no change vs last-good" in out
    assert "--yes: deploy without asking" in out
    assert out.index("--yes: deploy without asking") < out.index("canary")
    assert "10.255.214.0/24" in net.lab.running("r1")


def test_a_rollback_counts_the_lines_it_changes_against_the_running_config(net: Net) -> None:
    """r1 drifted by one line: rolling it back to its last-good removes that line, and the summary says so
    (against last-good it would say "no change")."""
    net.lab.edit("r1", add=["ip route 10.9.9.0/24 blackhole"])

    code, out = _invoke(net, "rollback", "r1", "--yes")

    assert code == 0, out
    assert f"r1: +0 -1 lines vs running -> {net.first[:10]}" in out
    assert "--yes: rollback without asking" in out
    assert net.lab.running("r1") == net.artifact(net.first, "r1")
