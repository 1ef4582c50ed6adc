"""Pre- and post-checks of one host: pure comparisons on plain data, and the device I/O that feeds them.

Pre-checks: the device is reachable, its running config equals its last-good artifact after normalization (no
unknown drift), and its state is captured (facts, interfaces, BGP neighbours, as the platform offers).

Post-checks, polled until the settle deadline (protocols take seconds to converge):

(a) convergence: the running config equals the artifact after normalization (checked first; a config does not
    converge by waiting, so a mismatch fails at once);
(b) expectations: the host's ``<host>.expect.yaml`` (NAPALM ``compliance_report`` format) holds; when the
    release configures expectations for the host, a missing or empty file is a failure, never a pass, and so
    is a getter the platform cannot run;
(c) no regression against the pre-state: BGP sessions Established before stay Established, interfaces up stay
    up, received-prefix counts do not collapse - unless the release itself removed or changed that neighbour
    or interface (``change_scope``).

Everything that decides is a pure function of plain data (``state_from_napalm``, ``change_scope``,
``regressions``, ``compliance_failures``), so it is tested without devices.

Examples:
    >>> before = "router bgp 1\\n neighbor 10.0.0.2 remote-as 2\\n neighbor 10.0.0.6 remote-as 3\\n"
    >>> after = "router bgp 1\\n neighbor 10.0.0.2 remote-as 9\\n neighbor 10.0.0.6 remote-as 3\\n"
    >>> sorted(change_scope(before, after).neighbors)
    ['10.0.0.2']
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from netimmutable.compare import Strategy, compare_running
from netimmutable.errors import DeviceError, InputError, Unsupported
from netimmutable.failures import Failure, FailureKind
from netimmutable.normalize import normalized_diff
from netimmutable.yamlio import load_plain_yaml_text

__all__ = [
    "COLLAPSE_RATIO",
    "STATE_GETTERS",
    "TIMER_POLL",
    "BgpPeerState",
    "ChangeScope",
    "CheckTarget",
    "Facts",
    "InterfaceState",
    "PostCheckResult",
    "PreCheckResult",
    "StateDevice",
    "StateSnapshot",
    "announce",
    "capture_state",
    "change_scope",
    "compliance_failures",
    "convergence_diff",
    "expectations_problem",
    "post_check",
    "pre_check",
    "regressions",
    "round_getters",
    "state_from_napalm",
]

COLLAPSE_RATIO = 0.5
"""Received prefixes collapse when a session keeps less than this share of what it had before."""
TIMER_POLL = 5.0
"""While a soak pauses between rounds, seconds between asks whether the commit is still pending (a revert
timer that fires mid-soak stops the checks within this, at one cheap device call per ask)."""
SOAK_ROUNDS = 3
"""Rounds of checks spread over a soak after the one that first passed, the last at its end (fewer when the
settle interval is longer than a third of the soak): a session that a hold timer takes down inside the soak
is down at its end; each round reads every getter the checks use, so more rounds cost device time."""


# -------------------------------------------------------------------------------------------- state model
@dataclass(frozen=True, slots=True)
class Facts:
    hostname: str
    vendor: str
    model: str
    os_version: str
    serial_number: str


@dataclass(frozen=True, slots=True)
class InterfaceState:
    name: str
    is_up: bool
    is_enabled: bool


@dataclass(frozen=True, slots=True)
class BgpPeerState:
    vrf: str
    address: str
    remote_as: int
    is_up: bool
    is_enabled: bool
    received_prefixes: int
    """Sum over address families; -1 when the platform does not say."""


@dataclass(frozen=True, slots=True)
class StateSnapshot:
    """What a device looked like at one moment, as far as the platform's getters tell."""

    host: str
    facts: Facts | None
    interfaces: tuple[InterfaceState, ...]
    bgp_peers: tuple[BgpPeerState, ...]
    unsupported: tuple[str, ...] = ()
    """Getters the platform does not offer (their part of the state is empty, not 'all down')."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StateSnapshot:
        """The snapshot ``to_dict`` gave (as the journal keeps it); raises ``InputError`` when malformed.

        Examples:
            >>> s = StateSnapshot("r1", None, (InterfaceState("eth0", True, True),), ())
            >>> StateSnapshot.from_dict(s.to_dict()) == s
            True
        """
        try:
            facts = data.get("facts")
            return cls(
                host=str(data["host"]),
                facts=Facts(**facts) if facts else None,
                interfaces=tuple(InterfaceState(**i) for i in data.get("interfaces") or ()),
                bgp_peers=tuple(BgpPeerState(**p) for p in data.get("bgp_peers") or ()),
                unsupported=tuple(str(u) for u in data.get("unsupported") or ()),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"not a state snapshot: {exc}") from None

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` over the canonical JSON of the snapshot (no volatile fields are kept)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    def peer(self, vrf: str, address: str) -> BgpPeerState | None:
        return next((p for p in self.bgp_peers if p.vrf == vrf and p.address == address), None)

    def interface(self, name: str) -> InterfaceState | None:
        return next((i for i in self.interfaces if i.name == name), None)

    def established(self) -> tuple[BgpPeerState, ...]:
        return tuple(p for p in self.bgp_peers if p.is_up)


def _int(value: Any, default: int = -1) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def state_from_napalm(
    host: str,
    facts: Mapping[str, Any] | None,
    interfaces: Mapping[str, Any] | None,
    bgp: Mapping[str, Any] | None,
    unsupported: Sequence[str] = (),
) -> StateSnapshot:
    """Typed snapshot from NAPALM getter results (``None`` for a getter the platform does not offer).

    Examples:
        >>> s = state_from_napalm(
        ...     "r1", None, {"eth1": {"is_up": True, "is_enabled": True}},
        ...     {"global": {"peers": {"10.0.0.2": {"remote_as": 65002, "is_up": True, "is_enabled": True,
        ...         "address_family": {"ipv4": {"received_prefixes": 3}}}}}}, ["get_facts"])
        >>> s.bgp_peers[0].received_prefixes, s.interfaces[0].is_up, s.unsupported
        (3, True, ('get_facts',))
    """
    fact = None
    if facts is not None:
        fact = Facts(
            hostname=str(facts.get("hostname", "")),
            vendor=str(facts.get("vendor", "")),
            model=str(facts.get("model", "")),
            os_version=str(facts.get("os_version", "")),
            serial_number=str(facts.get("serial_number", "")),
        )
    ifaces = tuple(
        InterfaceState(name=str(name), is_up=bool(v.get("is_up")), is_enabled=bool(v.get("is_enabled")))
        for name, v in sorted((interfaces or {}).items())
    )
    peers: list[BgpPeerState] = []
    for vrf, table in sorted((bgp or {}).items()):
        for address, peer in sorted(((table or {}).get("peers") or {}).items()):
            counts = [
                _int(af.get("received_prefixes"))
                for af in (peer.get("address_family") or {}).values()
                if isinstance(af, Mapping)
            ]
            known = [c for c in counts if c >= 0]
            peers.append(
                BgpPeerState(
                    vrf=str(vrf),
                    address=str(address),
                    remote_as=_int(peer.get("remote_as")),
                    is_up=bool(peer.get("is_up")),
                    is_enabled=bool(peer.get("is_enabled", True)),
                    received_prefixes=sum(known) if known else -1,
                )
            )
    return StateSnapshot(
        host=host,
        facts=fact,
        interfaces=ifaces,
        bgp_peers=tuple(peers),
        unsupported=tuple(sorted(unsupported)),
    )


# -------------------------------------------------------------------------------------------- release scope
@dataclass(frozen=True, slots=True)
class ChangeScope:
    """Neighbours and interfaces the release itself removed or changed: their state may change."""

    neighbors: frozenset[str] = frozenset()
    interfaces: frozenset[str] = frozenset()
    all_neighbors: bool = False
    """The routing process itself changed (e.g. the local AS): every session may reset."""


_NEIGHBOR_RE = re.compile(r"^\s*neighbor\s+(\S+)(\s|$)")
_INTERFACE_RE = re.compile(r"^interface\s+(\S+)")
_ROUTER_BGP_RE = re.compile(r"^router\s+bgp\b")


def _neighbor_lines(config: str) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for line in config.splitlines():
        match = _NEIGHBOR_RE.match(line)
        if match:
            found.setdefault(match.group(1), []).append(line.strip())
    return {k: tuple(sorted(v)) for k, v in found.items()}


def _interface_blocks(config: str) -> dict[str, tuple[str, ...]]:
    """``interface NAME`` blocks: the header and the indented lines after it."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in config.splitlines():
        match = _INTERFACE_RE.match(line)
        if match:
            current = blocks.setdefault(match.group(1), [])
            continue
        if current is not None and line[:1] in (" ", "\t") and line.strip():
            current.append(line.strip())
        elif line.strip():
            current = None
    return {k: tuple(sorted(v)) for k, v in blocks.items()}


def _router_lines(config: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in config.splitlines() if _ROUTER_BGP_RE.match(line))


def change_scope(before: str | None, after: str) -> ChangeScope:
    """What a change from config ``before`` to ``after`` touches (industry-standard ``neighbor``/``interface``
    syntax: IOS, EOS, NX-OS, FRR). ``before`` None (unknown) excuses nothing that is still in ``after``.

    Examples:
        >>> change_scope("interface eth1\\n ip address 10.0.0.1/30\\n", "interface eth1\\n").interfaces
        frozenset({'eth1'})
        >>> change_scope("router bgp 1\\n", "router bgp 2\\n").all_neighbors
        True
    """
    if before is None:
        return ChangeScope()
    old_n, new_n = _neighbor_lines(before), _neighbor_lines(after)
    old_i, new_i = _interface_blocks(before), _interface_blocks(after)
    return ChangeScope(
        neighbors=frozenset(a for a, lines in old_n.items() if new_n.get(a) != lines),
        interfaces=frozenset(n for n, lines in old_i.items() if new_i.get(n) != lines),
        all_neighbors=_router_lines(before) != _router_lines(after),
    )


# -------------------------------------------------------------------------------------------- comparisons
def regressions(pre: StateSnapshot, post: StateSnapshot, scope: ChangeScope) -> tuple[Failure, ...]:
    """Every way ``post`` is worse than ``pre`` that the release does not explain.

    Examples:
        >>> up = BgpPeerState("global", "10.0.0.2", 65002, True, True, 4)
        >>> down = BgpPeerState("global", "10.0.0.2", 65002, False, True, 0)
        >>> pre = StateSnapshot("r1", None, (), (up,))
        >>> regressions(pre, StateSnapshot("r1", None, (), (down,)), ChangeScope())
        ('BGP neighbour 10.0.0.2 (AS 65002) was Established before the change and is down now',)
        >>> changed = ChangeScope(neighbors=frozenset({"10.0.0.2"}))
        >>> regressions(pre, StateSnapshot("r1", None, (), (down,)), changed)
        ()
    """
    found: list[Failure] = []
    for before in pre.bgp_peers:
        if scope.all_neighbors or before.address in scope.neighbors:
            continue
        if "get_bgp_neighbors" in post.unsupported:  # it answered before (pre has peers): proves nothing now
            if before.is_up:
                found.append(
                    Failure(
                        f"get_bgp_neighbors answered before the change and not after it: BGP neighbour "
                        f"{before.address} (Established before) cannot be checked"
                    )
                )
            continue
        after = post.peer(before.vrf, before.address)
        vrf = "" if before.vrf in ("global", "default") else f" (vrf {before.vrf})"
        name = f"BGP neighbour {before.address}{vrf} (AS {before.remote_as})"
        if before.is_up and (after is None or not after.is_up):
            state = "gone" if after is None else "down"
            text = f"{name} was Established before the change and is {state} now"
            found.append(Failure(text, FailureKind.SESSION, before.address))
            continue
        if (
            after is not None
            and before.received_prefixes > 0
            and 0 <= after.received_prefixes < before.received_prefixes * COLLAPSE_RATIO
        ):
            text = f"{name} received {before.received_prefixes} prefixes before the change, "
            found.append(
                Failure(f"{text}{after.received_prefixes} now", FailureKind.PREFIXES_LOST, before.address)
            )
    for before_if in pre.interfaces:
        if not before_if.is_up or before_if.name in scope.interfaces:
            continue
        if "get_interfaces" in post.unsupported:  # it answered before (pre has interfaces)
            found.append(
                Failure(
                    f"get_interfaces answered before the change and not after it: interface {before_if.name} "
                    "cannot be checked"
                )
            )
            continue
        after_if = post.interface(before_if.name)
        if after_if is None or not after_if.is_up:
            state = "gone" if after_if is None else "down"
            found.append(Failure(f"interface {before_if.name} was up before the change and is {state} now"))
    return tuple(found)


def _describe_result(path: str, result: Any, out: list[Failure], peer: str | None = None) -> None:
    """The failures under ``path`` of a compliance report, each about the BGP ``peer`` it sits under (the
    keys below ``get_bgp_neighbors.<vrf>.peers`` are neighbour addresses, whatever dots or colons hold)."""
    parts = path.split(".")
    at_peers = len(parts) == 3 and parts[0] == "get_bgp_neighbors" and parts[2] == "peers"

    def found(text: str, about: str | None = peer) -> None:
        out.append(Failure(text, FailureKind.SESSION, about) if about else Failure(text))

    if not isinstance(result, Mapping):
        if result is False:
            found(f"{path}: does not hold")
        return
    if result.get("complies", True):
        return
    for key in result.get("missing") or ():
        found(
            f"{path}: missing {json.dumps(key, sort_keys=True, default=str)}", str(key) if at_peers else peer
        )
    for key in result.get("extra") or ():
        found(
            f"{path}: unexpected {json.dumps(key, sort_keys=True, default=str)}",
            str(key) if at_peers else peer,
        )
    present = result.get("present")
    if isinstance(present, Mapping):
        for key, item in present.items():
            if not isinstance(item, Mapping) or item.get("complies", True):
                continue
            about = str(key) if at_peers else peer
            if item.get("nested"):
                _describe_result(f"{path}.{key}", item.get("diff"), out, about)
            else:
                value = f"expected {item.get('expected_value')!r}, got {item.get('actual_value')!r}"
                found(f"{path}.{key}: {value}", about)


def compliance_failures(report: Mapping[str, Any]) -> tuple[Failure, ...]:
    """Readable failures of a NAPALM ``compliance_report``; a skipped getter is a failure (it proved nothing).

    Examples:
        >>> compliance_failures({"complies": True, "skipped": [], "get_facts": {"complies": True}})
        ()
        >>> compliance_failures({"complies": True, "skipped": ["get_x"], "get_x": {"skipped": True}})
        ('get_x: could not be checked on this platform (skipped)',)
        >>> compliance_failures({"complies": False, "skipped": [], "get_bgp_neighbors": {"complies": False,
        ...     "present": {"global": {"complies": False, "nested": True, "diff": {"complies": False,
        ...     "present": {}, "missing": ["10.0.0.9"], "extra": []}}}, "missing": [], "extra": []}})
        ('get_bgp_neighbors.global: missing "10.0.0.9"',)
    """
    out: list[Failure] = [
        Failure(f"{name}: could not be checked on this platform (skipped)")
        for name in report.get("skipped") or ()
    ]
    for name, result in report.items():
        if name in ("complies", "skipped") or not isinstance(result, Mapping) or result.get("skipped"):
            continue
        _describe_result(name, result, out)
    if not out and report.get("complies") is False:
        out.append(Failure("the compliance report does not comply"))
    return tuple(out)


def expectations_problem(text: str | None, required: bool) -> str | None:
    """Why an expectations document cannot be used, or None when it can (or none is configured).

    Examples:
        >>> expectations_problem(None, True)
        'expectations are configured for this host but the release has no .expect.yaml file'
        >>> expectations_problem("# nothing\\n", True)
        'the expectations file is empty: it would prove nothing'
        >>> expectations_problem(None, False) is None
        True
    """
    if text is None:
        return (
            "expectations are configured for this host but the release has no .expect.yaml file"
            if required
            else None
        )
    try:
        data = load_plain_yaml_text(text, "expectations")
    except InputError as exc:
        return f"the expectations file is not valid YAML: {exc.message}"
    if not data:
        return "the expectations file is empty: it would prove nothing"
    if not isinstance(data, list) or not all(isinstance(item, Mapping) and item for item in data):
        return "the expectations file must be a list of getter checks (NAPALM compliance_report format)"
    return None


def convergence_diff(expected: str, running: str, platform: str, extra: Sequence[str] = ()) -> str:
    """The normalized diff between what should run and what runs ('' when converged)."""
    return normalized_diff(
        expected, running, platform, extra, expected_label="artifact", running_label="running"
    )


# -------------------------------------------------------------------------------------------- device I/O
class StateDevice(Protocol):
    """The part of ``netimmutable.device.Device`` the checks use (a real ``Device`` in production)."""

    name: str
    platform: str

    def running_config(self) -> str: ...
    def load_replace(self, config: str) -> None: ...
    def compare(self) -> str: ...
    def discard(self) -> None: ...
    def facts(self) -> dict[str, Any]: ...
    def interfaces(self) -> dict[str, Any]: ...
    def bgp_neighbors(self) -> dict[str, Any]: ...
    def compliance(
        self, expectations_yaml: str, label: str = ..., known: Mapping[str, Mapping[str, Any]] | None = ...
    ) -> dict[str, Any]: ...


def _unsupported(exc: DeviceError) -> bool:
    return isinstance(exc, Unsupported)


STATE_GETTERS = ("get_facts", "get_interfaces", "get_bgp_neighbors")
"""What a check round reads for the state snapshot."""


def announce(device: object, getters: Sequence[str]) -> None:
    """Tell ``device`` which getters it is about to be asked, one after the other (``Device.read_together``:
    a driver that can read them at once does; others, and devices without it, are not asked)."""
    together = getattr(device, "read_together", None)
    if callable(together):
        together(tuple(getters))


def round_getters(strategy: Strategy) -> tuple[str, ...]:
    """The getters of a check round that starts by comparing the running config the way ``strategy`` says
    (a device comparison reads no running config)."""
    return STATE_GETTERS if strategy is Strategy.DEVICE else ("get_config", *STATE_GETTERS)


def capture_state(device: StateDevice) -> StateSnapshot:
    """Facts, interfaces and BGP neighbours, as far as the platform offers (others: ``unsupported``)."""
    return _read_state(device)[0]


def _read_state(device: StateDevice) -> tuple[StateSnapshot, dict[str, Mapping[str, Any]]]:
    """The state snapshot, and the raw getter results it came from (for the compliance report)."""
    results: dict[str, Mapping[str, Any] | None] = {}
    unsupported: list[str] = []
    getters: dict[str, Callable[[], dict[str, Any]]] = dict(
        zip(STATE_GETTERS, (device.facts, device.interfaces, device.bgp_neighbors), strict=True)
    )
    announce(device, tuple(getters))
    for name, getter in getters.items():
        try:
            results[name] = getter()
        except DeviceError as exc:
            if not _unsupported(exc):
                raise
            results[name] = None
            unsupported.append(name)
    snapshot = state_from_napalm(
        device.name,
        results["get_facts"],
        results["get_interfaces"],
        results["get_bgp_neighbors"],
        unsupported,
    )
    return snapshot, {name: value for name, value in results.items() if value is not None}


@dataclass(frozen=True, slots=True)
class PreCheckResult:
    running: str | None
    """The raw running config (may hold secret values: mask before showing or storing); None when the driver
    has no ``get_config``."""
    drift: str
    """Diff of last-good artifact vs running ('' when none or when there is no last-good): normalized text, or
    the device's own diff (``drift_by`` says which)."""
    state: StateSnapshot
    drift_by: str = "text"
    """``text`` or ``device``: the view that decided the drift (``netimmutable.compare``)."""


def pre_check(
    device: StateDevice,
    last_good: str | None,
    extra: Sequence[str] = (),
    strategy: Strategy = Strategy.TEXT,
    *,
    secrets: Mapping[str, str] | None = None,
) -> PreCheckResult:
    """Running config, drift against the last-good artifact (secrets resolved, compared the way ``strategy``
    says), and the pre-state."""
    announce(device, ("get_config", *STATE_GETTERS))  # the running config and the pre-state: one moment
    try:
        running: str | None = device.running_config()
    except Unsupported:
        if strategy is Strategy.TEXT:
            raise
        running = None
    drift, drift_by = "", "text"
    if last_good is not None:
        found = compare_running(
            device,
            last_good,
            strategy,
            extra,
            running=running,
            labels=("last-good", "running"),
            secrets=secrets,
        )
        drift, drift_by = found.diff, found.decided_by
    return PreCheckResult(running=running, drift=drift, state=capture_state(device), drift_by=drift_by)


@dataclass(frozen=True, slots=True)
class CheckTarget:
    """What a device must look like after a change (or after a rollback)."""

    config: str
    """The resolved config the device must run."""
    expectations: str | None
    expectations_required: bool
    label: str = "artifact"


@dataclass(frozen=True, slots=True)
class PostCheckResult:
    ok: bool
    failures: tuple[str, ...]
    state: StateSnapshot | None
    attempts: int
    seconds: float
    convergence: str = ""
    """The normalized diff when the config did not converge (secrets resolved: mask before showing)."""
    notes: tuple[str, ...] = field(default=())
    running: str = ""
    """The running config read by the check (may hold secret values)."""
    soaked: float = 0.0
    """Seconds the checks kept holding after they first held (the soak, or how far into it they failed)."""
    reverted: bool = False
    """The device's revert timer fired while the checks ran: they stopped at once (``ok`` is False)."""
    soak_wait: float = 0.0
    """Of ``soaked``, the seconds spent waiting between rounds (the rest is reading the device)."""


def post_check(
    device: StateDevice,
    target: CheckTarget,
    pre: StateSnapshot | None,
    scope: ChangeScope,
    *,
    settle_timeout: float,
    settle_interval: float,
    extra: Sequence[str] = (),
    cancelled: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    soak: float = 0.0,
    on_soak: Callable[[float], None] = lambda _left: None,
    still_pending: Callable[[], bool] | None = None,
    strategy: Strategy = Strategy.TEXT,
    secrets: Mapping[str, str] | None = None,
) -> PostCheckResult:
    """Convergence (compared the way ``strategy`` says), then expectations and no-regression, polled until
    they hold or the settle deadline;
    then, with ``soak`` seconds, polled on until they have held every round for that long (``on_soak`` gets
    the seconds left at each round). A failure or a Ctrl-C during the soak fails the checks.

    ``still_pending`` (a change committed with a device-side revert timer): asked before every round; once it
    says False the device's timer has fired and put the old config back: the checks stop at once with
    ``reverted`` set (checking the new release any longer would check nothing)."""
    start = clock()
    deadline = start + settle_timeout
    problem = expectations_problem(target.expectations, target.expectations_required)
    notes: tuple[str, ...] = () if target.expectations or problem else ("no expectations configured",)

    def fired(attempts: int) -> PostCheckResult | None:
        if still_pending is None or still_pending():
            return None
        return PostCheckResult(
            False,
            (f"the device's revert timer fired {clock() - start:.1f}s into the post-checks",),
            None,
            attempts,
            clock() - start,
            notes=notes,
            reverted=True,
        )

    if (timer := fired(0)) is not None:
        return timer
    announce(device, round_getters(strategy))  # convergence and the first round: one moment
    converged = compare_running(
        device, target.config, strategy, extra, labels=(target.label, "running"), secrets=secrets
    )
    diff, running = converged.diff, converged.running or ""
    if diff and (timer := fired(1)) is not None:  # the timer fired between our look and the read
        return timer
    if diff or problem:  # neither gets better by waiting
        failure = (
            f"convergence: the running config differs from the {target.label} after the commit"
            if diff
            else f"expectations: {problem}"
        )
        return PostCheckResult(
            False, (failure,), None, 1, clock() - start, convergence=diff, notes=notes, running=running
        )
    attempts = 0
    held_since: float | None = None  # when the checks first held (the soak's start)
    waited = 0.0  # slept between the rounds of the soak
    timer = None
    while True:
        if timer is not None or (attempts and (timer := fired(attempts)) is not None):
            return timer
        attempts += 1
        state, raw = _read_state(device)
        failures = _round_failures(device, target, pre, scope, state, raw)
        if failures and (timer := fired(attempts)) is not None:  # the revert broke this round, not the change
            return timer
        now = clock()
        if not failures:
            held_since = now if held_since is None else held_since
        wait = _next_wait(
            failures, now, held_since, soak, deadline, settle_timeout, attempts, cancelled, on_soak
        )
        if wait is None:
            soaked = 0.0 if held_since is None else clock() - held_since
            return PostCheckResult(
                not failures,
                tuple(failures),
                state,
                attempts,
                clock() - start,
                notes=notes,
                running=running,
                soaked=soaked,
                soak_wait=waited,
            )
        if held_since is None:
            sleep(max(0.0, min(settle_interval, wait)))
            continue
        # soaking: a few rounds spread over the soak (the last at its end), slept in steps of the settle
        # interval so that a Ctrl-C is seen as soon as before
        pause = min(wait, max(settle_interval, soak / SOAK_ROUNDS))
        asked_at = clock()
        timer = None
        while pause > 0 and not cancelled() and timer is None:
            step = min(settle_interval, pause) if settle_interval > 0 else pause
            sleep(step)
            waited += step
            pause -= step
            if pause > 0 and clock() - asked_at >= TIMER_POLL:  # a timer that fires mid-pause stops it
                asked_at = clock()
                timer = fired(attempts)


def _next_wait(
    failures: list[str],
    now: float,
    held_since: float | None,
    soak: float,
    deadline: float,
    settle_timeout: float,
    attempts: int,
    cancelled: Callable[[], bool],
    on_soak: Callable[[float], None],
) -> float | None:
    """After a round of post-checks: how long until the next (None: the checks are decided, ``failures``
    completed with why they ended when they failed)."""
    if not failures:
        assert held_since is not None  # noqa: S101 - set by the caller when the round passed
        left = soak - (now - held_since)
        if left <= 0:
            return None
        on_soak(left)
        if cancelled():
            failures.append(
                Failure(f"interrupted (Ctrl-C) during the soak, {soak - left:.0f}s in", FailureKind.ENDED)
            )
            return None
        return left
    if held_since is not None:
        failures.append(
            Failure(
                f"failed during the soak, {now - held_since:.1f}s after the checks first held "
                f"(soak {soak:g}s)",
                FailureKind.ENDED,
            )
        )
    elif cancelled():
        failures.append(Failure("interrupted (Ctrl-C) before the checks held", FailureKind.ENDED))
    elif now >= deadline:
        failures.append(
            Failure(
                f"still failing after {settle_timeout:g}s settle time ({attempts} attempt(s))",
                FailureKind.ENDED,
            )
        )
    else:
        return deadline - now
    return None


def _round_failures(
    device: StateDevice,
    target: CheckTarget,
    pre: StateSnapshot | None,
    scope: ChangeScope,
    state: StateSnapshot,
    raw: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """What one round of post-checks finds wrong: expectations, and regressions against the pre-state."""
    failures: list[str] = []
    if target.expectations:
        # the getters just read answer the report too: one device read per getter per round
        report = device.compliance(target.expectations, f"{device.name}.expect.yaml", known=raw)
        failures.extend(f.prefixed("expectations: ") for f in compliance_failures(report))
    if pre is not None:
        failures.extend(r.prefixed("regression: ") for r in regressions(pre, state, scope))
    return failures
