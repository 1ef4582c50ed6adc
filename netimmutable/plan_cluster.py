"""``plan --cluster``: each host's load, compare and discard on a Dask worker (read-only: a host whose worker
died is planned again on another).

A plan hands the device the release's candidate with its secrets resolved (the device's own diff is the
plan), so a host's task carries that candidate and the values of the secrets *its* artifact references
(for the device's encodings and for masking the diff on the worker), never the run's other values and
never a device password (the worker's own environment has it). docs/scale.md says what that asks of the
network between coordinator and workers (TLS).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from nornir.core.inventory import Host

from netimmutable.cluster import Cluster, TaskOutcome, host_from_payload, host_payload, sites_of
from netimmutable.errors import NetImmutableError
from netimmutable.plan import HostPlan, PlanStatus, _Job, _plan_one
from netimmutable.secrets import secret_names

__all__ = ["plan_on_cluster", "plan_task"]


def _as_is(text: str) -> str:
    return text


def plan_task(payload: Mapping[str, Any]) -> HostPlan:
    """Runs on a worker: plan one host (its candidate is resolved already)."""
    from netimmutable.device import Device

    host = host_from_payload(payload["host"])
    job = _Job(payload["candidate"], _as_is, dict(payload["secrets"]), tuple(payload["extra"]), Device.open)
    return _plan_one(host, job)


def _outcome(outcome: TaskOutcome[HostPlan], platform: str) -> HostPlan:
    if outcome.value is not None:
        return replace(outcome.value, worker=outcome.worker)
    if outcome.lost:
        last = f" (last worker: {outcome.worker})" if outcome.worker else ""
        message = f"the cluster lost this host: {outcome.error.splitlines()[0]}{last}"
    elif outcome.worker:
        message = f"planning failed on worker {outcome.worker}: {outcome.error.splitlines()[0]}"
    else:  # decided before any worker had it (no worker offers its site)
        message = outcome.error
    return HostPlan(outcome.host, PlanStatus.ERROR, message=message, platform=platform, worker=outcome.worker)


def plan_on_cluster(
    cluster: Cluster, hosts: Sequence[Host], jobs: Mapping[str, _Job]
) -> tuple[HostPlan, ...]:
    """Plan ``hosts`` on ``cluster``; one plan per host, in the order of ``hosts``."""
    planned: dict[str, HostPlan] = {}
    payloads: dict[str, dict[str, Any]] = {}
    for host in hosts:
        job = jobs[host.name]
        if job.artifact is None:
            planned[host.name] = HostPlan(
                host.name, PlanStatus.ERROR, message="the release has no artifact for this host"
            )
            continue
        try:
            candidate = job.resolve(job.artifact)
        except NetImmutableError as exc:
            planned[host.name] = HostPlan(host.name, PlanStatus.ERROR, message=exc.message)
            continue
        names = secret_names([job.artifact])
        payloads[host.name] = {
            "host": host_payload(host, data_keys=()),
            "candidate": candidate,
            "secrets": {name: job.secrets[name] for name in sorted(names) if name in job.secrets},
            "extra": job.extra,
        }
    platforms = {host.name: str(host.platform or "") for host in hosts}
    outcomes = cluster.map_hosts(
        plan_task,
        payloads,
        sites=sites_of(hosts, cluster.options.site_key),
        reschedule_lost=True,
        key_prefix="netimmutable-plan",
    )
    for name, outcome in outcomes.items():
        planned[name] = _outcome(outcome, platforms[name])
    return tuple(planned[host.name] for host in hosts)
