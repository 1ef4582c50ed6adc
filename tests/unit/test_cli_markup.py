"""Device and user text is printed as it is, never read as Rich markup (issue 14, item 13): a message
holding ``[/red]`` made Rich raise MarkupError, so a run that needed a person (exit 5) ended with exit 1."""

from __future__ import annotations

import click
from click.testing import CliRunner

from netimmutable.cli.common import NetImmutableGroup
from netimmutable.errors import InputError, RollbackFailed
from tests.unit.deploy.conftest import Net, net

__all__ = ["net"]  # the fixture

HOSTILE = "r2: [/red] refused [bold]x[/bold] \\[y] [link=file:///etc/passwd]z"


def _group(exc: Exception) -> click.Group:
    @click.group(cls=NetImmutableGroup)
    def cli() -> None:
        pass

    @cli.command()
    def boom() -> None:
        raise exc

    return cli


def test_a_failed_rollback_quoting_markup_still_exits_5_with_the_text_verbatim() -> None:
    result = CliRunner().invoke(_group(RollbackFailed(HOSTILE, host="r2")), ["boom"])
    assert result.exit_code == 5, result.output
    assert HOSTILE in result.stderr


def test_an_error_quoting_markup_exits_1_with_the_text_verbatim() -> None:
    result = CliRunner().invoke(_group(InputError(HOSTILE, file="x.yaml")), ["boom"])
    assert result.exit_code == 1 and HOSTILE in result.stderr


def test_sim_device_message_with_markup_in_a_failed_rollback(net: Net) -> None:
    net.wrong_remote_as("r2")
    net.lab.set_knobs("r2", fail_step="rollback", fail_message=HOSTILE)
    result = net.cli("deploy", "--yes", "--limit", "r2")
    assert result.exit_code == 5, result.output
    assert HOSTILE in result.output.replace("\n", "")  # wrapped in the table, whole in the details


def test_a_commit_message_with_markup_is_printed_as_written(net: Net) -> None:
    net.edit_hosts(r"announce: \[", "announce: [10.99.0.0/24, ", host="r1")
    result = net.cli("commit", "-m", "[/red] fix [bold]")
    assert result.exit_code == 0, result.output
    assert "[/red] fix [bold]" in result.output
