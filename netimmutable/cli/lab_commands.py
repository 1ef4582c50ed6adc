"""``netimmutable lab up|down|status``: a local lab of the example network (real FRR routers or simulated)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from netimmutable.cli.common import CliExit, emit_json, err_console, format_option, out_console, repo_option
from netimmutable.exitcodes import ExitCode
from netimmutable.lab import LabStatus, lab_down, lab_status, lab_up
from netimmutable.repo import find_repo

__all__ = ["COMMANDS"]


def _print(status: LabStatus, fmt: str) -> None:
    if fmt == "json":
        emit_json(status.to_json())
        return
    console = out_console()
    if not status.up and not status.routers:
        console.print(f"no lab is up for {status.repo_root}")
        return
    table = Table(title=f"{status.kind} lab of {status.repo_root}")
    for column in ("router", "management", "namespace", "running", "BGP Established"):
        table.add_column(column)
    for r in status.routers:
        table.add_row(
            r.name,
            r.mgmt_address,
            r.namespace or "-",
            "yes" if r.running else "NO",
            f"{r.bgp_established}/{r.bgp_configured}",
        )
    console.print(table)
    if status.up_seconds is not None:
        console.print(f"up since {status.started_at} (came up in {status.up_seconds:.1f} s)")
    if status.connections_file:
        console.print(f"connections: {status.connections_file}")


@click.group("lab")
def lab() -> None:
    """A local lab of the repository's network: real FRR routers in network namespaces, or simulated.

    \b
    Examples:
      sudo netimmutable lab up              # four FRR routers, BGP Established, connections written
      netimmutable lab up --sim             # the same network from simulated devices, no root needed
      netimmutable lab status --format json
      sudo netimmutable lab down            # removes every namespace, process and file it created
    """


@lab.command("up")
@repo_option
@click.option("--sim", is_flag=True, help="Build the network from simulated devices (no privileges needed).")
@click.option(
    "--rebuild",
    is_flag=True,
    help="Remove a lab that is up and build it anew (refused while a run is in flight).",
)
@format_option("text", "json")
def up_command(repo_path: Path | None, sim: bool, rebuild: bool, fmt: str) -> None:
    """Build the lab, load each router with snapshots/<host>.cfg, wait until every BGP session is up.

    A lab that is already up is left exactly as it is (its status is printed); --rebuild replaces it, and is
    refused while a deploy, rollback or recover of the repository is in flight.

    \b
    Examples:
      sudo netimmutable lab up
      netimmutable lab up --sim --repo ./mynet
      sudo netimmutable lab up --rebuild    # start again from the committed snapshots
    """
    root = find_repo(repo_path)
    kind = "sim" if sim else "FRR"
    err_console().print(f"{'rebuilding' if rebuild else 'bringing up'} the {kind} lab of {root} ...")
    status = lab_up(root, sim=sim, rebuild=rebuild)
    if status.already_up:
        err_console().print(
            f"the {kind} lab was already up: nothing changed (`netimmutable lab up --rebuild` builds it anew)"
        )
    _print(status, fmt)


@lab.command("down")
@repo_option
def down_command(repo_path: Path | None) -> None:
    """Remove the lab: every process, namespace and file it created (idempotent).

    \b
    Examples:
      sudo netimmutable lab down
    """
    root = find_repo(repo_path)
    lab_down(root)
    err_console().print(f"lab of {root} is down")


@lab.command("status")
@repo_option
@format_option("text", "json")
def status_command(repo_path: Path | None, fmt: str) -> None:
    """Show the lab's routers and BGP sessions; exit 3 when a router or session is down.

    \b
    Examples:
      netimmutable lab status
      netimmutable lab status --format json
    """
    status = lab_status(find_repo(repo_path))
    _print(status, fmt)
    if status.up and not status.healthy:
        raise CliExit(ExitCode.CHANGES)


COMMANDS = [lab]
