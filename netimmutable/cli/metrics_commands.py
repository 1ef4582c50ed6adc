"""``netimmutable metrics``: change and coverage figures from the records, for people and for Prometheus."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from netimmutable.cli.common import format_option, repo_option
from netimmutable.errors import InputError

__all__ = ["COMMANDS"]


@click.command("metrics")
@click.option(
    "--since",
    "since",
    metavar="SPAN|DATE",
    default=None,
    help="Also report this period: 30d, 12h, 2w, 90m before now, or a UTC date (2024-05-01) or time.",
)
@click.option(
    "--until",
    "until",
    metavar="DATE",
    default=None,
    help="Figures as of this UTC date (its midnight) or time instead of now: a report for last month.",
)
@format_option("text", "json")
@click.option(
    "--openmetrics",
    "openmetrics",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the figures as OpenMetrics text to FILE, atomically (for node_exporter's textfile "
    "collector: a *.prom file in its --collector.textfile.directory).",
)
@repo_option
def metrics_command(
    since: str | None, until: str | None, fmt: str, openmetrics: Path | None, repo_path: Path | None
) -> None:
    """Deployment frequency, change failure rate, rollback time, time to restore, drift, coverage, durations.

    Computed from what the repository records (run records in git, the good refs, the inventory, HEAD's
    snapshots, the render time in release trailers, and this checkout's last verify per host); nothing
    is stored. Each figure is given overall and, with --since, for that period. Definitions:
    docs/metrics.md.

    \b
    Examples:
      netimmutable metrics                                  # overall
      netimmutable metrics --since 30d                      # the last 30 days, and overall
      netimmutable metrics --since 2024-05-01 --until 2024-06-01 --format json   # May 2024
      netimmutable metrics --since 7d --openmetrics /var/lib/node_exporter/textfile/netimmutable.prom
    """
    from netimmutable.inventory import load_inventory
    from netimmutable.metrics import compute, parse_since, parse_until
    from netimmutable.metrics_report import to_json_text, to_text, write_openmetrics
    from netimmutable.metrics_source import load_history
    from netimmutable.repo import open_repo

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:  # bad --since/--until are usage errors, before anything is read
        if until is not None:
            now = parse_until(until)
        if since is not None:
            parse_since(since, now)
    except InputError as exc:
        raise click.BadParameter(exc.message) from None
    repo = open_repo(repo_path)
    metrics = compute(load_history(repo, load_inventory(repo)), now, since)
    if openmetrics is not None:
        write_openmetrics(openmetrics, metrics)
    sys.stdout.write(to_json_text(metrics) if fmt == "json" else to_text(metrics))


COMMANDS = [metrics_command]
