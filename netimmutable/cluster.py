"""Running per-host device work on a Dask distributed cluster (``--cluster ADDRESS``).

The CLI process is the coordinator: it keeps git, records, journal, locks and progress, and hands each
host's device steps to the cluster's workers as one task per host (``Cluster.map_hosts``). What a task
carries is a *host payload* (``host_payload``): how to open the device (hostname, port, username,
driver, NAPALM options) and the host data the task needs, never a password. On the worker,
``host_from_payload`` rebuilds a Nornir host and takes the password from the worker's own environment
(``netimmutable.connections.lookup_password``).

Site affinity: with ``cluster.site_key`` set (e.g. ``site``), each host's task requires the worker resource
``site_resource(<the host's value>)`` (one unit), so it runs only on a worker started with
``dask worker tcp://SCHED:8786 --resources "site-lon1=100"``; a host without a value runs on any worker,
a host whose site no worker offers comes back as an error at once (never a task waiting forever).

Workers dying: with ``reschedule_lost=True`` (read-only work: verify, plan) Dask runs the host again on
another worker. With ``reschedule_lost=False`` (device changes) a host is never run twice: the first
attempt records a claim on the scheduler (its worker's name) before calling the work; a rescheduled
attempt that finds the claim returns at once and the host comes back ``lost``; so does a task the
scheduler gave up on.

``distributed`` is imported inside the functions that need it: ``import netimmutable`` never needs dask
(the extra ``netimmutable[cluster]`` installs it).

Examples:
    >>> site_resource("lon1")
    'site-lon1'
    >>> site_resource("Paris 2/B")
    'site-Paris_2_B'
"""

from __future__ import annotations

import queue
import re
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, TypeVar

from nornir.core.inventory import ConnectionOptions, Host

from netimmutable.connections import CONNECTION, KEYLESS_DRIVERS, lookup_password
from netimmutable.errors import NetImmutableError
from netimmutable.settings import ClusterSettings

__all__ = [
    "Cluster",
    "ClusterError",
    "ClusterOptions",
    "TaskOutcome",
    "cluster_options",
    "host_from_payload",
    "host_payload",
    "site_resource",
    "sites_of",
]

P = TypeVar("P")
R = TypeVar("R")

_INSTALL = "pip install 'netimmutable[cluster]'"
_BATCH = 500
"""At most this many finished hosts' results are fetched from the workers in one round trip."""
_WATCH_INTERVAL = 0.5
"""Seconds between the coordinator's checks that every pending host still has a worker that can run it."""


class ClusterError(NetImmutableError):
    """The cluster cannot be used: dask is not installed, the scheduler cannot be reached, or no worker
    offers a host's site resource."""


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    address: str
    """The scheduler, e.g. ``tcp://10.0.0.5:8786`` (``cluster.address`` setting, ``--cluster`` flag)."""
    site_key: str | None = None
    """The host data key whose value names the host's site (``cluster.site_key``); None: no affinity."""
    connect_timeout: float = 10.0
    """Seconds to reach the scheduler; also how long pending hosts may go without a worker that can run
    them before they are given up."""


@dataclass(frozen=True, slots=True)
class TaskOutcome(Generic[R]):
    """What became of one host's task."""

    host: str
    worker: str
    """The Dask worker (its name, else its address) that ran it; "" when run in process."""
    value: R | None = None
    error: str = ""
    """One line saying what the task raised, then its traceback; "" when it returned."""
    lost: bool = False
    """The worker running it died and the host was not run again (or the scheduler gave up on it)."""


def site_resource(site: str) -> str:
    """The Dask worker resource that stands for ``site`` (characters Dask's ``--resources`` syntax cannot
    carry become ``_``)."""
    return "site-" + re.sub(r"[^A-Za-z0-9_.-]", "_", site)


def cluster_options(settings: ClusterSettings, flag: str | None = None) -> ClusterOptions | None:
    """The cluster to use: ``--cluster`` (``flag``) over the ``cluster.address`` setting; None: in process.

    Examples:
        >>> cluster_options(ClusterSettings(site_key="site"), "tcp://10.0.0.5:8786")
        ClusterOptions(address='tcp://10.0.0.5:8786', site_key='site', connect_timeout=10.0)
        >>> cluster_options(ClusterSettings()) is None
        True
    """
    address = flag or settings.address
    if not address:
        return None
    return ClusterOptions(address, settings.site_key or None, settings.connect_timeout)


def sites_of(hosts: Iterable[Host], site_key: str | None) -> dict[str, str | None]:
    """Each host's site: the value of its data key ``site_key`` (after inheritance), None without one."""
    if not site_key:
        return {host.name: None for host in hosts}
    out: dict[str, str | None] = {}
    for host in hosts:
        value = host.get(site_key)
        out[host.name] = str(value) if value not in (None, "") else None
    return out


def host_payload(host: Host, *, data_keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    """What a worker needs to open ``host``'s device (after ``prepare_hosts``), without its password.

    ``data_keys``: the host data (after group and defaults inheritance) to carry; None: all of it.
    """
    params = host.get_connection_parameters(CONNECTION)
    extras = dict(params.extras or {})
    extras["optional_args"] = {
        key: value for key, value in dict(extras.get("optional_args") or {}).items() if key != "password"
    }
    if data_keys is None:
        data = dict(host.items())
    else:  # each key resolved through groups and defaults, as templates see it
        data = {key: host[key] for key in data_keys if _has(host, key)}
    return {
        "name": host.name,
        "hostname": params.hostname or host.hostname or host.name,
        "port": params.port or host.port,
        "username": params.username or host.username,
        "platform": str(host.platform) if host.platform else None,
        "driver": params.platform,
        "extras": extras,
        "groups": [str(group) for group in host.groups],
        "data": data,
    }


def _has(host: Host, key: str) -> bool:
    try:
        host[key]
    except KeyError:
        return False
    return True


def host_from_payload(payload: Mapping[str, Any]) -> Host:
    """The Nornir host a worker opens the device with; the password comes from this process's own
    environment or keyring (``lookup_password``), never from the payload."""
    name = str(payload["name"])
    driver = payload.get("driver")
    host = Host(
        name=name,
        hostname=payload.get("hostname"),
        port=payload.get("port"),
        username=payload.get("username"),
        platform=payload.get("platform"),
        data=dict(payload.get("data") or {}),
    )
    host.connection_options[CONNECTION] = ConnectionOptions(
        hostname=host.hostname,
        port=host.port,
        username=host.username,
        platform=driver,
        extras=dict(payload.get("extras") or {}),
    )
    host.password = None if str(driver) in KEYLESS_DRIVERS else lookup_password(name)
    return host


@dataclass(frozen=True, slots=True)
class _Done:
    worker: str
    value: Any


@dataclass(frozen=True, slots=True)
class _Failed:
    worker: str
    error: str


@dataclass(frozen=True, slots=True)
class _Claimed:
    """A rescheduled attempt of a never-twice task: ``worker`` had claimed it and died."""

    worker: str


def _this_worker() -> tuple[Any, str]:
    from distributed import get_worker

    worker = get_worker()
    return worker, str(worker.name if worker.name is not None else worker.address)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exception(exc))


def _run_task(fn: Callable[[Any], Any], payload: Any, claim: list[str] | None) -> Any:
    """What each task runs on a worker: the claim when the host must never run twice, then ``fn``."""
    worker, name = _this_worker()
    if claim is not None:
        client = worker.client
        holder = client.get_metadata(claim, default=None)
        if holder is not None:
            return _Claimed(str(holder))
        client.set_metadata(claim, name)
    try:
        return _Done(name, fn(payload))
    except Exception as exc:  # noqa: BLE001 - failures are data: the coordinator gets what was raised
        return _Failed(name, _describe(exc))


def _forget_claims(run: str, dask_scheduler: Any = None) -> None:
    """Runs on the scheduler: drop the claims of run ``run``."""
    dask_scheduler.metadata.pop(run, None)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ClusterError(
            f"running on a cluster needs dask distributed, which is not installed: {_INSTALL}"
        ) from exc
    return distributed


class Cluster:
    """A connection to a Dask scheduler; ``with Cluster.connect(options) as cluster:``."""

    def __init__(self, client: Any, options: ClusterOptions) -> None:
        self._client = client
        self.options = options

    @classmethod
    def connect(cls, options: ClusterOptions) -> Cluster:
        """Connect to the scheduler (``ClusterError`` naming the address when it cannot be reached)."""
        distributed = _import_distributed()
        try:
            client = distributed.Client(
                options.address, timeout=options.connect_timeout, set_as_default=False
            )
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {options.address} within "
                f"{options.connect_timeout:g} s: {exc}",
                hint="check the `cluster.address` setting in netimmutable.yaml or the `--cluster` flag, "
                "and that `dask scheduler` runs there",
            ) from exc
        return cls(client, options)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def worker_resources(self) -> dict[str, dict[str, float]]:
        """Each live worker (name, else address) -> the resources it offers."""
        info = self._client.scheduler_info(n_workers=-1)
        return {
            str(w.get("name") if w.get("name") is not None else address): dict(w.get("resources") or {})
            for address, w in info.get("workers", {}).items()
        }

    def map_hosts(
        self,
        fn: Callable[[P], R],
        payloads: Mapping[str, P],
        *,
        sites: Mapping[str, str | None],
        reschedule_lost: bool,
        on_done: Callable[[TaskOutcome[R]], None] | None = None,
        key_prefix: str = "netimmutable",
    ) -> dict[str, TaskOutcome[R]]:
        """Run ``fn(payload)`` for every host on the cluster; host -> outcome (see the module docstring).

        ``fn`` must be a module-level function the workers can import; ``sites`` gives each host's site
        (None or missing: any worker). ``on_done`` is called in this thread as each host finishes.
        """
        distributed = _import_distributed()
        run = f"{key_prefix}-{uuid.uuid4().hex[:12]}"
        offered = self.worker_resources()
        outcomes: dict[str, TaskOutcome[R]] = {}
        futures: dict[Any, str] = {}
        needs: dict[str, str | None] = {}
        claims: dict[str, list[str]] = {}

        def finish(outcome: TaskOutcome[R]) -> None:
            outcomes[outcome.host] = outcome
            if on_done is not None:
                on_done(outcome)

        try:
            groups: dict[str | None, list[str]] = {}  # resource -> its hosts: one submission each
            for host in payloads:
                site = sites.get(host)
                resource = site_resource(site) if site else None
                if resource is not None and not any(resource in res for res in offered.values()):
                    finish(TaskOutcome(host, "", error=str(self._no_worker(host, site, resource))))
                    continue
                if not reschedule_lost:
                    claims[host] = [run, host]
                needs[host] = resource
                groups.setdefault(resource, []).append(host)
            for resource, hosts in groups.items():
                submitted = self._client.map(
                    _run_task,
                    [fn] * len(hosts),
                    [payloads[host] for host in hosts],
                    [claims.get(host) for host in hosts],
                    key=[f"{run}-{host}" for host in hosts],
                    resources={resource: 1} if resource else None,
                    pure=False,
                )
                futures.update(zip(submitted, hosts, strict=True))
            for batch in self._completed(futures, needs):
                for outcome in self._outcomes(distributed, batch, futures, claims):
                    finish(outcome)
            for host in futures.values():  # given up: no worker left that can run them
                if host not in outcomes:
                    finish(self._abandoned(host, needs[host], claims.get(host)))
        finally:
            pending = [f for f in futures if not f.done()]
            if pending:
                with suppress(Exception):  # the scheduler may be gone: the futures die with the client
                    self._client.cancel(pending)
            if claims:
                with suppress(Exception):  # the claims are of this run only
                    self._client.run_on_scheduler(_forget_claims, run)
        return outcomes

    def _outcomes(
        self, distributed: Any, batch: list[Any], futures: Mapping[Any, str], claims: Mapping[str, list[str]]
    ) -> Iterator[TaskOutcome[Any]]:
        """The outcomes of finished futures; the results of those that returned are gathered at once."""
        returned = [f for f in batch if f.status == "finished"]
        values = self._client.gather(returned, errors="skip") if returned else []
        if len(values) == len(returned):
            for future, value in zip(returned, values, strict=True):
                yield self._finished(futures[future], value)
        else:  # a result was lost on the way (its worker died after finishing): one by one
            for future in returned:
                yield self._outcome(distributed, futures[future], future, claims.get(futures[future]))
        for future in batch:
            if future.status != "finished":
                yield self._outcome(distributed, futures[future], future, claims.get(futures[future]))

    def _completed(self, futures: Mapping[Any, str], needs: Mapping[str, str | None]) -> Iterator[list[Any]]:
        """The futures in batches as they finish; stops early when the pending ones have had no worker able
        to run them for ``connect_timeout`` seconds (the caller reports those)."""
        finished: queue.Queue[Any] = queue.Queue()
        for future in futures:
            future.add_done_callback(finished.put)  # called from distributed's own thread
        pending = set(futures)
        orphaned_since: float | None = None
        while pending:
            try:
                future = finished.get(timeout=_WATCH_INTERVAL)
            except queue.Empty:
                if self._runnable({needs[futures[f]] for f in pending}):
                    orphaned_since = None
                elif orphaned_since is None:
                    orphaned_since = time.monotonic()
                elif time.monotonic() - orphaned_since >= self.options.connect_timeout:
                    return
                continue
            batch = [future]
            with suppress(queue.Empty):  # whatever else has finished meanwhile: fetched in one round trip
                while len(batch) < _BATCH:
                    batch.append(finished.get_nowait())
            pending.difference_update(batch)
            yield batch

    def _runnable(self, needed: set[str | None]) -> bool:
        """Whether some live worker can run a task of one of the ``needed`` resources (None: any)."""
        offered = self.worker_resources()
        return any(
            (need is None and bool(offered)) or any(need in res for res in offered.values())
            for need in needed
        )

    def _outcome(self, distributed: Any, host: str, future: Any, claim: list[str] | None) -> TaskOutcome[R]:
        if future.status == "finished":
            return self._finished(host, future.result())
        if future.status == "cancelled":  # the scheduler is gone (or the run was interrupted)
            connected = self._client.status == "running"
            why = "" if connected else ": the connection to the scheduler was lost"
            return TaskOutcome(
                host, self._holder(claim) if connected else "", error=f"cancelled{why}", lost=True
            )
        exc = future.exception()
        if isinstance(exc, distributed.KilledWorker):
            holder = self._holder(claim)
            return TaskOutcome(
                host,
                holder,
                error=f"the scheduler gave up on it: every worker running it died ({exc})",
                lost=True,
            )
        return TaskOutcome(host, "", error=_describe(exc) if exc is not None else f"task {future.status}")

    @staticmethod
    def _finished(host: str, result: Any) -> TaskOutcome[R]:
        if isinstance(result, _Done):
            return TaskOutcome(host, result.worker, value=result.value)
        if isinstance(result, _Failed):
            return TaskOutcome(host, result.worker, error=result.error)
        if isinstance(result, _Claimed):
            return TaskOutcome(
                host, result.worker, error=f"the worker {result.worker} running it died", lost=True
            )
        return TaskOutcome(host, "", error=f"unexpected task result {type(result).__name__}")

    def _abandoned(self, host: str, resource: str | None, claim: list[str] | None) -> TaskOutcome[R]:
        what = f"offering the resource {resource}" if resource else "at all"
        return TaskOutcome(
            host,
            self._holder(claim),
            error=f"no worker {what} for {self.options.connect_timeout:g} s: the host was given up",
            lost=True,
        )

    def _holder(self, claim: list[str] | None) -> str:
        if claim is None:
            return ""
        with suppress(Exception):
            return str(self._client.get_metadata(claim, default="") or "")
        return ""

    @staticmethod
    def _no_worker(host: str, site: str | None, resource: str) -> ClusterError:
        return ClusterError(
            f"no worker of the cluster offers the resource {resource} for site {site!r}",
            host=host,
            hint=f'start one for that site: dask worker tcp://SCHEDULER:8786 --resources "{resource}=100"',
        )
