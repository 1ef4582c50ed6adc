"""Shared pieces of the CLI: options every command uses, output helpers, and error-to-exit-code mapping."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console

from netimmutable.errors import NetImmutableError, RollbackFailed
from netimmutable.exitcodes import ExitCode

if TYPE_CHECKING:
    from netimmutable.repo import NetworkRepo

__all__ = [
    "CliExit",
    "NetImmutableGroup",
    "RecordsSynced",
    "cluster_option",
    "emit_json",
    "err_console",
    "filter_option",
    "format_option",
    "limit_option",
    "out_console",
    "parse_filters",
    "parse_limit",
    "repo_option",
]

F = TypeVar("F", bound=Callable[..., Any])


def out_console() -> Console:
    """Where results go (stdout). Colour only on a terminal.

    Text is never read as markup unless a call asks (``markup=True``, every piece of data in it escaped):
    device, user and file text is printed as it is."""
    return Console(highlight=False, soft_wrap=True, markup=False)


def err_console() -> Console:
    """Where progress and messages go (stderr), so stdout stays clean for --format json (no markup either)."""
    return Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


class RecordsSynced:
    """Around a device-changing run: the records remote's records fetched first, this clone's pushed after
    (``netimmutable.records_sync``; nothing without a records remote). What each did goes to stderr."""

    def __init__(self, repo: NetworkRepo) -> None:
        self.repo = repo
        self.warning: str | None = None

    def __enter__(self) -> RecordsSynced:
        from netimmutable.records_sync import fetch_records_before

        self._say(fetch_records_before(self.repo).said())
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        from netimmutable.records_sync import push_records_after

        pushed = push_records_after(self.repo)
        self.warning = pushed.warning
        self._say(pushed.said())

    def _say(self, lines: list[str]) -> None:
        for line in lines:
            err_console().print(line, markup=False, soft_wrap=True)

    def exit_code(self, code: int, record_sha: str | None) -> ExitCode:
        """The run's exit code, or 1 when it was 0 and its record could not be pushed (it would be lost with
        this clone: a CI runner's)."""
        if code == 0 and record_sha is not None and self.warning is not None:
            return ExitCode.ERROR
        return ExitCode(code)


class CliExit(Exception):
    # a control-flow signal, not an error
    """Raised by a command to end with a given exit code after printing its result."""

    def __init__(self, code: ExitCode) -> None:
        self.code = code
        super().__init__(int(code))


class NetImmutableGroup(click.Group):
    """A click group that turns netimmutable errors into a one-paragraph message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        from netimmutable.artifacts import close_all_git
        from netimmutable.drivers.unsupported import forget_unsupported

        ctx.call_on_close(close_all_git)
        ctx.call_on_close(forget_unsupported)  # what a driver lacks is remembered for one command
        try:
            return super().invoke(ctx)
        except CliExit as done:
            ctx.exit(int(done.code))
        except RollbackFailed as exc:
            err_console().print(f"[bold red]error:[/] {_escape(str(exc))}", markup=True)
            ctx.exit(int(ExitCode.ROLLBACK_FAILED))
        except NetImmutableError as exc:
            err_console().print(f"[bold red]error:[/] {_escape(str(exc))}", markup=True)
            ctx.exit(int(ExitCode.ERROR))
        return None


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def emit_json(data: Any) -> None:
    """Write one JSON document to stdout (sorted keys, stable for diffs and machines)."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def format_option(*choices: str) -> Callable[[F], F]:
    """``--format`` with the given choices; the first is the default."""

    def decorate(func: F) -> F:
        return click.option(
            "--format",
            "fmt",
            type=click.Choice(list(choices)),
            default=choices[0],
            show_default=True,
            help="Output format.",
        )(func)

    return decorate


def repo_option(func: F) -> F:
    return click.option(
        "--repo",
        "repo_path",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Network repository (default: found from the current directory upwards).",
    )(func)


def cluster_option(func: F) -> F:
    """``--cluster ADDRESS``: the device work on a Dask cluster (docs/scale.md)."""
    return click.option(
        "--cluster",
        "cluster",
        default=None,
        metavar="ADDRESS",
        help="Run each host's device steps on the workers of this Dask scheduler (e.g. tcp://10.0.0.5:8786; "
        "default: cluster.address of netimmutable.yaml, else in this process). Needs "
        "`pip install 'netimmutable[cluster]'`; see docs/scale.md.",
    )(func)


def limit_option(func: F) -> F:
    return click.option(
        "--limit",
        "-l",
        "limit",
        default=None,
        metavar="NAME[,NAME]",
        help="Only these hosts (comma-separated names).",
    )(func)


def filter_option(func: F) -> F:
    return click.option(
        "--filter",
        "-f",
        "filters",
        multiple=True,
        metavar="KEY=VALUE",
        help="Only hosts whose data KEY equals VALUE (groups=NAME: membership). Repeatable, all must match.",
    )(func)


def parse_limit(limit: str | None) -> tuple[str, ...]:
    if not limit:
        return ()
    return tuple(n.strip() for n in limit.split(",") if n.strip())


def parse_filters(filters: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    parsed: list[tuple[str, str]] = []
    for item in filters:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--filter")
        parsed.append((key.strip(), value.strip()))
    return tuple(parsed)
