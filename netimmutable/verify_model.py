"""What a verify run produces: one typed result per host, the run's report, and the exit-code policy.

Every host ends in exactly one ``HostState``. How a state counts for the exit code (its ``Verdict``) depends
on the run's ``VerifyPolicy``; the text, JSON and JUnit formats and the exit code all read the same verdict.

    state                 verdict                         exit code contribution
    in-sync               ok                              0
    drift                 failure                         3
    expectations-failed   failure                         3
    unreachable           error (skipped with --unreachable-ok)      1 (none)
    no-baseline           error (skipped with --allow-no-baseline)   1 (none)
    untrusted-baseline    error                           1   (the good ref points at no approved release)
    in-flight             error                           1   (a live or unfinished run is changing it)
    error                 error                           1

Drift wins over errors: with both, the exit code is 3 (the report still lists every host that could not
be checked). A run in which every host was skipped checked nothing: exit 1, like a selection that matches
no host.

Examples:
    >>> policy = VerifyPolicy(unreachable_is_failure=False)
    >>> verdict(HostState.UNREACHABLE, policy), verdict(HostState.DRIFT, policy)
    (<Verdict.SKIPPED: 'skipped'>, <Verdict.FAILURE: 'failure'>)
    >>> exit_code_of([HostState.IN_SYNC, HostState.ERROR, HostState.DRIFT], VerifyPolicy())
    <ExitCode.CHANGES: 3>
    >>> exit_code_of([HostState.UNREACHABLE, HostState.UNREACHABLE], policy)
    <ExitCode.ERROR: 1>
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from netimmutable.exitcodes import ExitCode

__all__ = [
    "REPORT_SCHEMA_VERSION",
    "FeatureResult",
    "HostState",
    "Remediation",
    "Verdict",
    "VerifiedHost",
    "VerifyPolicy",
    "VerifyReport",
    "exit_code_of",
    "verdict",
]

REPORT_SCHEMA_VERSION = 1
"""Version of the JSON report (``netimmutable/schemas/verify-report.schema.json``)."""


class HostState(StrEnum):
    """The one state a host ends in."""

    IN_SYNC = "in-sync"
    DRIFT = "drift"
    EXPECTATIONS_FAILED = "expectations-failed"
    UNREACHABLE = "unreachable"
    NO_BASELINE = "no-baseline"
    UNTRUSTED_BASELINE = "untrusted-baseline"
    """The host's good ref points at a commit that is no approved release and that no run recorded."""
    IN_FLIGHT = "in-flight"
    """A deploy, rollback or recover that is running, or that died mid-change, holds the host: what it runs
    says nothing about drift, and the run (or ``recover``) settles it."""
    ERROR = "error"


class Verdict(StrEnum):
    """How a state counts for the run (JUnit: passed, failure, error, skipped)."""

    OK = "ok"
    FAILURE = "failure"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class VerifyPolicy:
    """Which states that prove nothing about drift still make the run fail (exit 1)."""

    unreachable_is_failure: bool = True
    no_baseline_is_failure: bool = True


def verdict(state: HostState, policy: VerifyPolicy) -> Verdict:
    if state is HostState.IN_SYNC:
        return Verdict.OK
    if state in (HostState.DRIFT, HostState.EXPECTATIONS_FAILED):
        return Verdict.FAILURE
    if state is HostState.UNREACHABLE and not policy.unreachable_is_failure:
        return Verdict.SKIPPED
    if state is HostState.NO_BASELINE and not policy.no_baseline_is_failure:
        return Verdict.SKIPPED
    return Verdict.ERROR


def exit_code_of(states: Iterable[HostState], policy: VerifyPolicy) -> ExitCode:
    """0 when nothing failed, 3 when any host drifted or failed expectations, else 1 on any error, or
    when no host was checked at all (every one skipped)."""
    verdicts = {verdict(s, policy) for s in states}
    if Verdict.FAILURE in verdicts:
        return ExitCode.CHANGES
    if Verdict.ERROR in verdicts or verdicts == {Verdict.SKIPPED}:
        return ExitCode.ERROR
    return ExitCode.OK


@dataclass(frozen=True, slots=True)
class Remediation:
    """A command a person can run about a host's state, and what it does."""

    action: str
    """``restore`` (back to the baseline), ``adopt`` (keep it via a release), ``deploy``, ``check``."""
    command: str
    description: str


@dataclass(frozen=True, slots=True)
class FeatureResult:
    """One feature of a host's config (``compliance.features``): compliant with the release, or drifted."""

    name: str
    compliant: bool
    missing: tuple[str, ...] = ()
    """Lines of the release the device lacks (with their parent lines)."""
    extra: tuple[str, ...] = ()
    """Lines on the device beyond the release (with their parent lines)."""
    error: str = ""
    """Why the feature could not be compared (its parser could not read a config)."""

    @property
    def status(self) -> str:
        """``compliant``, ``drifted``, or ``error``."""
        if self.error:
            return "error"
        return "compliant" if self.compliant else "drifted"


@dataclass(frozen=True, slots=True)
class VerifiedHost:
    """One host's verification. Texts are safe to show: secrets are masked."""

    host: str
    platform: str
    state: HostState
    checked_utc: str
    release: str | None = None
    """The release the host was compared with (full sha); None without a baseline."""
    baseline: str = "last-good"
    """``last-good`` (the host's last verified release) or ``rev`` (``--against``)."""
    expected_digest: str | None = None
    running_digest: str | None = None
    """Digests of the normalized, masked texts (``sha256:<hex>``); equal exactly when in sync."""
    diff: str = ""
    """Unified diff baseline -> running (drift only)."""
    expectations: str = "not-run"
    """``passed``, ``failed``, ``none-defined`` or ``not-run``."""
    failed_expectations: tuple[str, ...] = ()
    message: str = ""
    """Why the host is not in sync, in one paragraph (the error for unreachable/error)."""
    duration_s: float = 0.0
    remediation: tuple[Remediation, ...] = ()
    features: tuple[FeatureResult, ...] = ()
    """Per-feature compliance, when settings define features for the platform and the config was compared."""
    compared_by: str = ""
    """``text`` or ``device``: which view decided in sync or drift (``netimmutable.compare``); "" when the
    config was not compared (unreachable, error, no baseline)."""
    worker: str = ""
    """The Dask worker that ran the host's device steps (``--cluster``); "" when run in this process."""


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """A whole verify run."""

    run_id: str
    started_utc: str
    finished_utc: str
    tool_version: str
    against: str | None
    """The ``--against`` revision as given (None: each host's last-good release)."""
    against_release: str | None
    expectations: bool
    policy: VerifyPolicy
    hosts: tuple[VerifiedHost, ...]
    duration_s: float = 0.0

    def counts(self) -> dict[str, int]:
        """Hosts per state, every state present (zero included), in ``HostState`` order."""
        found = Counter(h.state for h in self.hosts)
        return {str(s): found.get(s, 0) for s in HostState}

    def verdict(self, host: VerifiedHost) -> Verdict:
        return verdict(host.state, self.policy)

    @property
    def exit_code(self) -> ExitCode:
        if not self.hosts:
            return ExitCode.ERROR  # a selection that matches nothing proves nothing
        return exit_code_of((h.state for h in self.hosts), self.policy)

    def summary(self) -> str:
        """``4 host(s): 2 in-sync, 1 drift, 1 unreachable`` (zero counts left out)."""
        parts = [f"{n} {state}" for state, n in self.counts().items() if n]
        return f"{len(self.hosts)} host(s)" + (": " + ", ".join(parts) if parts else "")
