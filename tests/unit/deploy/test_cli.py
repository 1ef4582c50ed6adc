"""``deploy``, ``rollback`` and ``demo`` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from netimmutable.cli import main

from .conftest import Net


def test_deploy_json_output_and_exit_code_4(net: Net) -> None:
    net.wrong_remote_as("r2")

    result = net.cli("deploy", "--format", "json", "--yes")

    assert result.exit_code == 4
    data = json.loads(result.stdout)
    assert data["exit_code"] == 4
    hosts = {h["host"]: h for h in data["hosts"]}
    assert hosts["r2"]["outcome"] == "rolled-back"
    assert "remote-as 65009" in hosts["r2"]["device_diff"]
    assert data["record"]


def test_deploy_text_output_names_what_happened(net: Net) -> None:
    net.announce("r1", "10.255.111.0/24")

    result = net.cli("deploy", "--canary", "r1", "--yes")

    assert result.exit_code == 0, result.output
    assert "r1    deployed" in result.stdout
    assert "recorded as" in result.stdout
    assert "== canary: r1" in result.stderr


def test_rollback_command_cli(net: Net) -> None:
    result = net.cli("rollback", "r3", "--yes")

    assert result.exit_code == 0, result.output
    assert "r3" in result.stdout and "unchanged" in result.stdout


def test_help_has_examples_and_exit_codes() -> None:
    for command in ("deploy", "rollback", "demo"):
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0
        assert "Examples:" in result.output
    assert "4  a change failed and was put back" in CliRunner().invoke(main, ["deploy", "--help"]).output


def test_demo_end_to_end(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path / "demo")], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    out = result.output
    assert "demo complete" in out
    assert "rolled-back" in out and "(exit code 4)" in out
    assert "r1: deployed" in out or "r1    deployed" in out
    assert not (tmp_path / "demo" / ".netimmutable" / "lab").exists()  # cleaned up
