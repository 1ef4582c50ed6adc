"""Good refs are checked before use: the drift baseline and the rollback target must be a real release.

``refs/netimmutable/good/<host>`` is both the baseline ``verify`` and the deploy's drift gate compare with,
and the configuration a failed change is rolled back to. Anyone can move a ref (``git update-ref``, a
shared remote through ``records fetch``), so a good ref is used only when

- it points at a *release by content* (``release_content``: its snapshots are what its own inputs render)
  that is *reachable from the approval branch* (``approval``), or
- a run recorded it: the good-log names exactly this release for this host, and the run record of that
  run id lists the host on that release, confirmed or unchanged (a release deployed with
  ``--allow-stale``, or dropped from the approval branch by a force-push, stays usable).

Anything else is refused with a message naming the host, the ref and why (``UntrustedGoodRef``); ``verify``
reports the host as ``untrusted-baseline``. ``records fetch`` moves a local good ref only to a release the
first rule accepts (a remote's own run records are not evidence).

Examples:
    >>> GoodTrust.__name__
    'GoodTrust'
"""

from __future__ import annotations

import git

from netimmutable.approval import SHALLOW_HINT, Approval, approval, reachable
from netimmutable.errors import NetImmutableError, UntrustedGoodRef
from netimmutable.records import GoodEntry, HostOutcome, Records, RunRecord, good_ref
from netimmutable.release_content import check_content
from netimmutable.repo import NetworkRepo

__all__ = ["GoodTrust"]

_GOOD_OUTCOMES = (HostOutcome.DEPLOYED, HostOutcome.UNCHANGED)


class GoodTrust:
    """Judges good refs of one repository; caches per release (a fleet shares a few releases)."""

    def __init__(self, repo: NetworkRepo, gitrepo: git.Repo, records: Records) -> None:
        self.repo, self.git, self.records = repo, gitrepo, records
        self._approval: Approval | str | None = None
        self._releases: dict[str, str | None] = {}
        self._runs: dict[str, RunRecord | None] | None = None

    def _approved(self) -> Approval | str:
        if self._approval is None:
            try:
                self._approval = approval(self.git)
            except NetImmutableError as exc:
                self._approval = f"the approval branch cannot be established ({exc.message})"
        return self._approval

    def release_problem(self, sha: str) -> str | None:
        """Why commit ``sha`` is not an approved release by content (None: it is)."""
        if sha not in self._releases:
            approved = self._approved()
            problem: str | None
            if isinstance(approved, str):
                problem = approved
            elif (on_branch := reachable(self.git, sha, approved.sha)) is None:
                problem = (
                    f"cannot be proven reachable from the approval branch {approved.label!r} ({SHALLOW_HINT})"
                )
            elif not on_branch:
                problem = f"is not reachable from the approval branch {approved.label!r}"
            else:
                try:
                    content = check_content(self.repo, self.git, sha)
                    problem = None if content.holds else f"is not a release: {content.describe()}"
                except NetImmutableError as exc:
                    problem = f"cannot be checked: {exc.message}"
            self._releases[sha] = problem
        return self._releases[sha]

    def _recorded(self, entry: GoodEntry) -> bool:
        if not entry.run_id:  # the good-log does not name this release for this host
            return False
        if self._runs is None:
            self._runs = {}
        if entry.run_id not in self._runs:
            self._runs[entry.run_id] = self.records.run(entry.run_id)
        run = self._runs[entry.run_id]
        host = run.host(entry.host) if run is not None else None
        return host is not None and host.outcome in _GOOD_OUTCOMES and host.release == entry.release

    def problem(self, entry: GoodEntry) -> str | None:
        """Why ``entry`` (a host's good ref) must not be used (None: it may)."""
        why = self.release_problem(entry.release)
        if why is None or self._recorded(entry):
            return None
        return f"{good_ref(entry.host)} points at {entry.release[:10]}, which {why}, and no run recorded it"

    def require(self, entry: GoodEntry, purpose: str) -> None:
        """Raise ``UntrustedGoodRef`` unless ``entry`` may be used for ``purpose``."""
        why = self.problem(entry)
        if why is not None:
            raise UntrustedGoodRef(
                f"{purpose}: the last-good record is not trusted: {why}",
                host=entry.host,
                hint=f"check who moved it (`git reflog {good_ref(entry.host)}`); `git update-ref -d "
                f"{good_ref(entry.host)}` makes the next deploy a first deployment (running config captured)",
            )
