"""The ``netimmutable`` command line: a thin layer that parses, calls, prints and maps errors to exit codes.

Each command group lives in its own module and is registered here. Commands never import napalm.
"""

from __future__ import annotations

import click

from netimmutable import __version__
from netimmutable.cli.common import NetImmutableGroup

__all__ = ["main"]

EXIT_CODES_HELP = """\b
Exit codes:
  0  ok
  1  error (bad input, unreachable device, git failure)
  2  usage error
  3  changes or drift found
  4  verification failed, devices rolled back
  5  rollback failed: a person must act
"""


@click.group(
    cls=NetImmutableGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    epilog=EXIT_CODES_HELP,
)
@click.version_option(__version__, prog_name="netimmutable")
def main() -> None:
    """Immutable configuration manager for network devices.

    Configurations are rendered from templates and inventory, committed to git as releases,
    pushed as full atomic replacements, verified, and rolled back automatically on failure.

    \b
    Examples:
      netimmutable demo                       # the whole story on simulated devices
      netimmutable init mynet --example       # a new network repo with the example network
      netimmutable render --check             # are the snapshots current? (exit 3 if not)
      netimmutable commit -m "r2: new peer"   # render and commit a release
      netimmutable diff --format markdown     # what reviewers read
    """


def _register() -> None:
    # One module per command group; each exposes COMMANDS (a list of click commands).
    from netimmutable.cli import (
        adopt_commands,
        deploy_commands,
        lab_commands,
        metrics_commands,
        records_commands,
        repo_commands,
        verify_commands,
    )

    for module in (
        repo_commands,
        lab_commands,
        verify_commands,
        records_commands,
        deploy_commands,
        metrics_commands,
        adopt_commands,
    ):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
