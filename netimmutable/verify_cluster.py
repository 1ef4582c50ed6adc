"""``verify --cluster``: each host's device steps on a Dask worker; the verdicts reported by the coordinator.

The CLI process keeps everything else (baselines from git, secrets, in-flight checks, the report, progress).
Each host becomes one task (``netimmutable.cluster.Cluster.map_hosts``, read-only so a host whose worker
died is run again on another) carrying the host's connection payload (no password: the worker's own
environment has it), its baseline artifact and the comparison settings. What the task does depends on the
secrets the host's artifact references:

- none: the whole check runs on the worker (device steps, normalize, digests, diff), which returns the
  host's result; the coordinator only adds the worker's name.
- some, compared as text (``sim``, and any platform set to ``text``): the worker only reads (the running
  config, the expectations' getters) and returns what it read; the coordinator resolves the secrets and
  decides. No secret value leaves the coordinator.
- some, compared by the device (``device``, ``text-first``): the device itself must be given the candidate
  with the values in it, so this host's task carries the values of the secrets *its* artifact references
  (never the run's others) and the worker decides. docs/scale.md says so and what to do about it (TLS).

Examples:
    >>> from netimmutable.cluster import TaskOutcome
    >>> lost_message(TaskOutcome("r1", "w-2", error="no worker at all for 10 s", lost=True))
    'the cluster lost this host: no worker at all for 10 s (last worker: w-2)'
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from nornir.core.inventory import Host

from netimmutable.cluster import Cluster, TaskOutcome, host_from_payload, host_payload, sites_of
from netimmutable.compare import Strategy, strategy_for
from netimmutable.connections import driver_name
from netimmutable.normalize import mask
from netimmutable.secrets import secret_names
from netimmutable.verify import (
    Baseline,
    DeviceReading,
    _check,
    _Context,
    _judge,
    _read,
    _result,
)
from netimmutable.verify_model import HostState, VerifiedHost

__all__ = ["lost_message", "verify_on_cluster", "verify_task"]

_log = logging.getLogger(__name__)


def verify_task(payload: Mapping[str, Any]) -> VerifiedHost | DeviceReading:
    """Runs on a worker: one host's check (``judge``), or only its device steps."""
    host = host_from_payload(payload["host"])
    baseline: Baseline = payload["baseline"]
    ctx: _Context = payload["ctx"]
    if payload["judge"]:
        return _check(host, baseline, ctx)
    return _read(host, baseline, ctx)


def lost_message(outcome: TaskOutcome[Any]) -> str:
    last = f" (last worker: {outcome.worker})" if outcome.worker else ""
    return (
        f"the cluster lost this host: {outcome.error.splitlines()[0] if outcome.error else 'no result'}{last}"
    )


def _payloads(
    hosts: Sequence[Host], baselines: Mapping[str, Baseline], ctx: _Context
) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Each host's task payload, and the hosts whose verdict the coordinator gives (see the docstring)."""
    without = replace(ctx, secrets={}, digests=None)
    payloads: dict[str, dict[str, Any]] = {}
    judged_here: set[str] = set()
    for host in hosts:
        baseline = baselines[host.name]
        names = secret_names([baseline.config or ""]) & set(ctx.secrets)
        host_ctx, judge = without, True
        if names and strategy_for(driver_name(host), ctx.compare) is Strategy.TEXT:
            judge = False
            judged_here.add(host.name)
        elif names:  # the device compares a candidate that must hold the values (see the docstring)
            host_ctx = replace(without, secrets={name: ctx.secrets[name] for name in sorted(names)})
        elif ctx.digests is not None and baseline.config is not None:  # only this artifact's digest travels
            known = ctx.digests.only(baseline.config, str(host.platform), ctx.extra)
            host_ctx = replace(without, digests=known) if known is not None else without
        payloads[host.name] = {
            "host": host_payload(host, data_keys=()),
            "baseline": baseline,
            "ctx": host_ctx,
            "judge": judge,
        }
    return payloads, judged_here


def verify_on_cluster(
    cluster: Cluster,
    hosts: Sequence[Host],
    baselines: Mapping[str, Baseline],
    ctx: _Context,
    progress: Callable[[VerifiedHost], None] | None = None,
) -> list[VerifiedHost]:
    """Verify ``hosts`` (all with a baseline config) on ``cluster``; one result per host, in no order."""
    by_name = {host.name: host for host in hosts}
    payloads, judged_here = _payloads(hosts, baselines, ctx)
    results: list[VerifiedHost] = []

    def done(outcome: TaskOutcome[VerifiedHost | DeviceReading]) -> None:
        result = _verified(by_name[outcome.host], baselines[outcome.host], ctx, outcome, judged_here)
        results.append(result)
        if progress is not None:
            progress(result)

    cluster.map_hosts(
        verify_task,
        payloads,
        sites=sites_of(hosts, cluster.options.site_key),
        reschedule_lost=True,
        on_done=done,
        key_prefix="netimmutable-verify",
    )
    return results


def _verified(
    host: Host,
    baseline: Baseline,
    ctx: _Context,
    outcome: TaskOutcome[VerifiedHost | DeviceReading],
    judged_here: set[str],
) -> VerifiedHost:
    value = outcome.value
    if isinstance(value, VerifiedHost):
        return replace(value, worker=outcome.worker)
    if isinstance(value, DeviceReading) and host.name in judged_here:
        return replace(_judge(host, baseline, ctx, value), worker=outcome.worker)
    if outcome.lost:
        message = lost_message(outcome)
    elif outcome.error and not outcome.worker:  # decided before any worker had it (no site worker)
        message = outcome.error
    elif outcome.error:
        _log.warning(
            "%s: verify failed on worker %s:\n%s", host.name, outcome.worker, mask(outcome.error, ctx.secrets)
        )
        message = (
            f"internal error while verifying on worker {outcome.worker}: {outcome.error.splitlines()[0]}"
        )
    else:
        message = f"unexpected result from the cluster: {type(value).__name__}"
    return replace(_result(host, HostState.ERROR, baseline, message=message), worker=outcome.worker)
