"""What flows through a change window: jobs, per-host results and outcomes, progress events, the run report.

Frozen dataclasses with tuples; outcomes are ``Enum``s. ``netimmutable.push`` turns a ``HostJob`` into a
``HostResult``; ``netimmutable.deploy`` strings hosts into a window and returns a ``RunReport``.

Host outcomes and causes are the one vocabulary of ``netimmutable.outcomes``.

Examples:
    >>> Phase.POSTCHECK.value, Phase.VERIFY_ROLLBACK.value
    ('post-check', 'verify-rollback')
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from netimmutable.batch_board import BatchBoard
from netimmutable.checks import StateDevice
from netimmutable.compare import Strategy
from netimmutable.errors import InputError
from netimmutable.outcomes import Cause, HostOutcome
from netimmutable.settings import OnFailure
from netimmutable.soak import SoakSetting
from netimmutable.topology import batches_apart

__all__ = [
    "CancelToken",
    "Confirm",
    "DeployOptions",
    "HostChange",
    "HostDevice",
    "HostJob",
    "HostResult",
    "Journal",
    "NullJournal",
    "Phase",
    "PipelineEnv",
    "PlanPin",
    "Progress",
    "ProgressEvent",
    "RunReport",
    "WindowSummary",
    "changed_lines",
    "exit_code_of",
    "plan_window",
]


class Phase(StrEnum):
    WINDOW = "window"
    CONNECT = "connect"
    PRECHECK = "pre-check"
    LOAD = "load"
    COMMIT = "commit"
    POSTCHECK = "post-check"
    CONFIRM = "confirm"
    ROLLBACK = "rollback"
    VERIFY_ROLLBACK = "verify-rollback"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    host: str | None
    """None for an event of the whole window (batches, policy decisions)."""
    phase: Phase
    message: str
    outcome: HostOutcome | None = None


class CancelToken:
    """Set on Ctrl-C: hosts not yet changed stop, changed hosts finish their checks or roll back, and a
    rollback's own verification still gets its full settle time. A second Ctrl-C abandons that too."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._abandon = threading.Event()
        self._reason = "Ctrl-C"

    def cancel(self, reason: str = "Ctrl-C") -> None:
        """Stop the window; ``reason`` is shown in the hosts' and the window's messages (the first one)."""
        if not self._event.is_set():
            self._reason = reason
        self._event.set()

    @property
    def reason(self) -> str:
        return self._reason

    def abandon(self) -> None:
        self._event.set()
        self._abandon.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    @property
    def abandoned(self) -> bool:
        """A second Ctrl-C: stop waiting even for rollbacks to verify (those hosts are left to recover)."""
        return self._abandon.is_set()


class Journal(Protocol):
    """``netimmutable.journal.Journal``: written (and fsynced) before every device-changing step."""

    def before(self, host: str, step: Any, **details: Any) -> None: ...
    def after(self, host: str, step: Any, outcome: str) -> None: ...
    def finish(self, host: str, outcome: str) -> None: ...


class NullJournal:
    """No journal (tests of the pipeline alone)."""

    def before(self, host: str, step: Any, **details: Any) -> None:
        return None

    def after(self, host: str, step: Any, outcome: str) -> None:
        return None

    def finish(self, host: str, outcome: str) -> None:
        return None


class HostDevice(StateDevice, Protocol):
    """The part of ``netimmutable.device.Device`` the pipeline uses."""

    def preflight(self, running: str | None = None) -> None: ...
    def load_replace(self, config: str) -> None: ...
    def compare(self) -> str: ...
    def discard(self) -> None: ...
    def commit(self, message: str, revert_in: int | None) -> None: ...
    def confirm(self) -> None: ...
    def has_pending_commit(self) -> bool: ...
    def rollback_driver(self) -> None: ...
    def bgp_neighbors_detail(self) -> dict[str, Any]: ...
    def session_token(self) -> str | None: ...
    def adopt_session(self, token: str) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class PlanPin:
    """What a reviewed plan saw on this host: the deploy refuses the host when the device changed since."""

    running_digest: str
    diff_digest: str
    check: Callable[[str | None, str], str | None]
    """(running config or None without get_config, device diff) -> why they differ from the plan, or None
    when they match."""


@dataclass(frozen=True, slots=True)
class HostJob:
    """Everything one host's pipeline needs; artifacts hold secret placeholders, never values."""

    host: str
    platform: str
    release: str
    artifact: str
    expectations: str | None
    expectations_required: bool
    last_good_release: str | None
    last_good_artifact: str | None
    """What the device should run now (drift check) and the rollback target; None on a first deployment."""
    last_good_expectations: str | None = None
    revert_in: int | None = None
    force_drift: bool = False
    plan: PlanPin | None = None
    purpose: str = "deploy"
    """'deploy', 'rollback' (rollback command) or 'rollback-all' (window policy): shown in messages."""
    far_ends: Mapping[str, str] = field(default_factory=dict)
    """BGP neighbour address -> the host at its far end, for far ends changed in the same batch."""
    alongside: tuple[str, ...] = ()
    """The other hosts changed in the same batch (named when this host loses prefixes)."""
    strategy: Strategy = Strategy.TEXT
    """How running is compared with intended on this host's driver (``netimmutable.compare``)."""


@dataclass(frozen=True, slots=True)
class HostResult:
    host: str
    outcome: HostOutcome
    message: str
    phase: Phase
    """The phase the host ended in (where it failed, or DONE)."""
    release: str
    device_diff: str = ""
    drift: str = ""
    failures: tuple[str, ...] = ()
    pre_digest: str | None = None
    post_digest: str | None = None
    pre_config_digest: str | None = None
    post_config_digest: str | None = None
    rollback_target: str | None = None
    captured_config: str | None = None
    """First deployment: the (masked) running config captured before the push, the rollback target."""
    changed: bool = False
    """The device's configuration was changed by this host's run (and, after a rollback, changed back)."""
    cause: Cause = Cause.NONE
    """Why the host ended as it did, when the outcome alone does not say (``netimmutable.outcomes.Cause``)."""
    seconds: float = 0.0
    failed_utc: str | None = None
    """When the change was found failing and its rollback began (None when it was not)."""
    ended_utc: str | None = None
    """When the host's pipeline ended (its outcome was decided)."""
    soak_wait: float = 0.0
    """Of ``seconds``, the time spent waiting between the soak's rounds (the soak's reads are not in it)."""
    notes: tuple[str, ...] = field(default=())
    worker: str = ""
    """The Dask worker that ran the host's steps (``deploy --cluster``); "" when run in process."""


@dataclass(frozen=True, slots=True)
class PipelineEnv:
    open_device: Callable[[], HostDevice]
    resolve: Callable[[str], str]
    """Secret placeholders -> values (only ever sent to or compared with the device)."""
    mask: Callable[[str], str]
    """Values -> placeholders (for everything shown or stored)."""
    mark_good: Callable[[str, str], None]
    """(host, release) -> record the release verified good on the host."""
    settle_timeout: float
    settle_interval: float
    commit_message: str
    soak: SoakSetting = 0.0
    """How long the post-checks of a change must keep passing after they first pass (``auto``: the host's
    largest BGP hold time plus a margin); rollbacks are not soaked."""
    extra_patterns: tuple[str, ...] = ()
    progress: Callable[[ProgressEvent], None] = lambda _e: None
    cancel: CancelToken = field(default_factory=CancelToken)
    journal: Journal = field(default_factory=NullJournal)
    keep_captured: Callable[[str, str], str] | None = None
    """Stores a host's (masked) captured running config in git where gc cannot remove it, for the journal;
    (host, text) -> the blob sha."""
    reconnect_tries: int = 3
    reconnect_delay: float = 1.0
    board: BatchBoard | None = None
    """The host's batch: a host whose checks fail only by prefixes lost through others waits for them."""
    fence: Callable[[str], str] = lambda _host: ""
    """host -> why this run must no longer act on the device ("" while it may): its lease on the records
    remote was lost or is about to expire (``netimmutable.leases.LeaseSet.problem``)."""
    secret_values: Callable[[], Mapping[str, str]] = dict
    """The run's resolved secrets (name -> value): comparisons recognize a secret in its device form."""


Progress = Callable[[ProgressEvent], None]


@dataclass(frozen=True, slots=True)
class DeployOptions:
    """A change window's options; None means the setting of ``netimmutable.yaml`` (``deploy:``)."""

    rev: str | None = None
    limit: tuple[str, ...] = ()
    filters: tuple[tuple[str, str], ...] = ()
    canary: str | None = None
    """A number of hosts ("2") or host names ("r1,r3"); "0" for none."""
    batch_size: int | None = None
    workers: int | None = None
    max_failures: int | None = None
    on_failure: OnFailure | None = None
    revert_in: int | None = None
    """Seconds of the device-side revert timer; 0 for none."""
    settle_timeout: float | None = None
    settle_interval: float | None = None
    soak: SoakSetting | None = None
    plan_file: str | None = None
    force_drift: bool = False
    allow_dirty: bool = False
    allow_stale: bool = False
    allow_adjacent: bool = False
    """Let hosts that share a link or a BGP session change in the same batch."""
    message: str | None = None
    cluster: str | None = None
    """``--cluster ADDRESS``: the Dask scheduler whose workers run the hosts' steps (over ``cluster.address``
    of the settings); None: the setting, and without one in process."""

    def flags(self) -> tuple[str, ...]:
        """The options as given, for the run record (overrides are explicit)."""
        out: list[str] = []
        for name, value in (
            ("--canary", self.canary),
            ("--batch-size", self.batch_size),
            ("--workers", self.workers),
            ("--max-failures", self.max_failures),
            ("--on-failure", self.on_failure),
            ("--revert-in", self.revert_in),
            ("--settle-timeout", self.settle_timeout),
            ("--soak", self.soak),
            ("--plan", self.plan_file),
            ("--limit", ",".join(self.limit) or None),
            ("--cluster", self.cluster),
        ):
            if value is not None:
                out.append(f"{name}={value}")
        out += [f"--filter={k}={v}" for k, v in self.filters]
        for name, on in (
            ("--force-drift", self.force_drift),
            ("--allow-dirty", self.allow_dirty),
            ("--allow-stale", self.allow_stale),
            ("--allow-adjacent", self.allow_adjacent),
        ):
            if on:
                out.append(name)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class RunReport:
    run_id: str
    kind: str
    release: str | None
    started_utc: str
    ended_utc: str
    operator: str
    hosts: tuple[HostResult, ...]
    flags: tuple[str, ...] = ()
    no_timer_hosts: tuple[str, ...] = ()
    stopped: str = ""
    """Why the window ended early ('' when every host was attempted)."""
    interrupted: bool = False
    record_sha: str | None = None
    record_error: str | None = None
    seconds: float = 0.0

    def host(self, name: str) -> HostResult | None:
        return next((h for h in self.hosts if h.host == name), None)

    def count(self, outcome: HostOutcome) -> int:
        return sum(1 for h in self.hosts if h.outcome is outcome)

    @property
    def exit_code(self) -> int:
        return exit_code_of(self)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "release": self.release,
            "started_utc": self.started_utc,
            "ended_utc": self.ended_utc,
            "operator": self.operator,
            "flags": list(self.flags),
            "no_timer_hosts": list(self.no_timer_hosts),
            "stopped": self.stopped,
            "interrupted": self.interrupted,
            "record": self.record_sha,
            "record_error": self.record_error,
            "seconds": self.seconds,
            "exit_code": self.exit_code,
            "hosts": [
                {
                    "host": h.host,
                    "outcome": h.outcome.value,
                    "message": h.message,
                    "phase": h.phase.value,
                    "release": h.release,
                    "cause": h.cause.value,
                    "changed": h.changed,
                    "device_diff": h.device_diff,
                    "drift": h.drift,
                    "failures": list(h.failures),
                    "rollback_target": h.rollback_target,
                    "pre_state_digest": h.pre_digest,
                    "post_state_digest": h.post_digest,
                    "seconds": h.seconds,
                    "soak_wait_s": round(h.soak_wait, 3),
                    "notes": list(h.notes),
                    "worker": h.worker or None,  # null in process, as in verify's and plan's JSON
                }
                for h in self.hosts
            ],
        }


def exit_code_of(report: RunReport) -> int:
    """0 ok; 5 a rollback failed or a device is UNKNOWN; 4 a change was put back (rolled back, or reverted by
    the device's timer) and verified; 1 otherwise."""
    outcomes = {h.outcome for h in report.hosts}
    if any(o.unsettled for o in outcomes):
        return 5
    if any(o.put_back for o in outcomes):
        return 4
    if any(not o.ok for o in outcomes) or report.interrupted or report.record_error:
        return 1
    if any(h.cause is Cause.RECORD for h in report.hosts):  # verified, but not recorded good
        return 1
    return 0


# ------------------------------------------------------------------------------ window shape
def plan_window(
    hosts: Sequence[str],
    canary: str,
    batch_size: int,
    changing: Collection[str] = (),
    adjacent: Mapping[str, Collection[str]] | None = None,
) -> tuple[tuple[str, ...], ...]:
    """The batches of a window: the canary batch first (when any), then batches of ``batch_size``.

    A canary of N hosts takes them from ``changing`` first (hosts whose artifact differs from their
    last-good): a canary with nothing to change would prove nothing. With ``adjacent`` (host -> the hosts it
    shares a link or a BGP session with, ``netimmutable.topology``), two changing neighbours never share a
    batch: a named canary that holds two is refused.

    Examples:
        >>> plan_window(["r1", "r2", "r3", "r4"], "1", 2)
        (('r1',), ('r2', 'r3'), ('r4',))
        >>> plan_window(["r1", "r2", "r3", "r4"], "1", 10, changing={"r3"})
        (('r3',), ('r1', 'r2', 'r4'))
        >>> plan_window(["r1", "r2", "r3", "r4"], "r3,r4", 10)
        (('r3', 'r4'), ('r1', 'r2'))
        >>> plan_window(["r1", "r2"], "0", 10)
        (('r1', 'r2'),)
        >>> ring = {"r1": {"r2", "r4"}, "r2": {"r1", "r3"}, "r3": {"r2", "r4"}, "r4": {"r3", "r1"}}
        >>> plan_window(["r1", "r2", "r3", "r4"], "0", 4, {"r1", "r2", "r3", "r4"}, ring)
        (('r1', 'r3'), ('r2', 'r4'))
        >>> plan_window(["r1", "r2", "r3", "r4"], "2", 4, {"r1", "r2", "r3", "r4"}, ring)
        (('r1', 'r3'), ('r2', 'r4'))
    """
    names = list(hosts)
    near = adjacent or {}
    spec = canary.strip()
    if spec.isdigit():
        ordered = [n for n in names if n in changing] + [n for n in names if n not in changing]
        first: list[str] = []
        for name in ordered:
            if len(first) >= int(spec):
                break
            if name in changing and any(o in changing and o in near.get(name, ()) for o in first):
                continue
            first.append(name)
    else:
        first = [n.strip() for n in spec.split(",") if n.strip()]
        unknown = [n for n in first if n not in names]
        if unknown:
            raise InputError(f"--canary names host(s) not in this window: {', '.join(unknown)}")
        pairs = [
            f"{a}-{b}"
            for i, a in enumerate(first)
            for b in first[i + 1 :]
            if a in changing and b in changing and b in near.get(a, ())
        ]
        if pairs:
            raise InputError(
                "--canary names hosts that share a link or a BGP session and both change: "
                + ", ".join(pairs),
                hint="name hosts that are not neighbours, or pass --allow-adjacent",
            )
    rest = [n for n in names if n not in first]
    batches = batches_apart(rest, batch_size, near, changing)
    return ((tuple(first),) if first else ()) + batches


@dataclass(frozen=True, slots=True)
class HostChange:
    """What a window will do to one host, as the confirmation shows it."""

    host: str
    target: str
    """The release (sha) it will run."""
    added: int
    removed: int
    first: bool
    """No last-good configuration is known: the first deployment (the running config is captured)."""
    compared: bool = True
    """False when nothing could be compared (a rollback whose device and records cannot say)."""
    against: str = "last-good"
    """What the counts are against: ``last-good`` (the recorded artifact) or ``running`` (the device's)."""
    note: str = ""
    """Why the counts are not against what they would normally be (``running config unreadable: ...``)."""


@dataclass(frozen=True, slots=True)
class WindowSummary:
    """What a ``deploy`` or ``rollback`` will do, shown before a person confirms it."""

    kind: str
    release: str | None
    release_summary: str
    hosts: tuple[HostChange, ...]
    batches: tuple[tuple[str, ...], ...]
    no_timer: tuple[str, ...]
    on_failure: str
    max_failures: int

    def lines(self) -> list[str]:
        """The summary as plain text lines."""
        head = f"{self.kind}: release {self.release[:10]}" if self.release else f"{self.kind}:"
        out = [head + (f" ({self.release_summary})" if self.release_summary else "")]
        for h in self.hosts:
            change = "first deployment" if h.first else f"+{h.added} -{h.removed} lines vs {h.against}"
            if not h.first and not (h.added or h.removed):
                change = f"no change vs {h.against}"
            if not h.compared:
                change = "full replace (shown against the running config when pushed)"
            note = f" ({h.note})" if h.note else ""
            out.append(f"  {h.host}: {change} -> {h.target[:10]}{note}")
        out.append(
            f"{len(self.batches)} batch(es): "
            + " | ".join(", ".join(b) for b in self.batches)
            + f"; on failure: {self.on_failure}, max failures: {self.max_failures}"
        )
        if self.no_timer:
            out.append("no device-side revert timer on: " + ", ".join(self.no_timer))
        return out


Confirm = Callable[[WindowSummary], bool]
"""Asked once before a window touches anything; False: nothing is done (``NotConfirmed``)."""


def changed_lines(old: str | None, new: str) -> tuple[int, int]:
    """(added, removed) lines from ``old`` to ``new``.

    Examples:
        >>> changed_lines("a\\nb\\n", "a\\nc\\nd\\n")
        (2, 1)
    """
    added = removed = 0
    for line in difflib.unified_diff((old or "").splitlines(), new.splitlines(), n=0, lineterm=""):
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed
