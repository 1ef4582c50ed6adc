"""Records shared through the records remote around every device-changing run (deploy, rollback, recover).

With a records remote (``netimmutable.trusted_settings.records_remote``: from outside the release,
default ``origin`` when the repository has it), a run starts by fetching the remote's records (the same merge
and trust checks as ``netimmutable records fetch``: every clone knows every device's last-good release) and
ends by pushing its own (``netimmutable records push``), so a CI runner's clone that is thrown away loses no
run record. When the push is refused because the remote moved, the records are fetched (merged) and pushed
once more. A push that still fails is a warning naming the remote and the command that finishes the job; the
CLI exits non-zero when that run's record exists only in this clone.

Without a records remote nothing here does anything.

Examples:
    >>> SyncResult(None).said()
    []
"""

from __future__ import annotations

from dataclasses import dataclass

from netimmutable.artifacts import open_git
from netimmutable.errors import NetImmutableError, RepoError
from netimmutable.records import Records
from netimmutable.repo import NetworkRepo
from netimmutable.trust import GoodTrust
from netimmutable.trusted_settings import RECORDS_REMOTE_CONFIG, records_remote

__all__ = ["SyncResult", "fetch_records_before", "push_records_after"]


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What a fetch or a push of the records did."""

    remote: str | None
    """The records remote (None: the repository has none, nothing was done)."""
    changed: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    """Remote good marks that did not move a local good ref (not an approved release)."""
    warning: str | None = None
    """Why the push failed, with what to do (None: pushed, or nothing to do)."""

    def said(self) -> list[str]:
        """Lines for a person (stderr)."""
        lines = [f"records: refused: {line}" for line in self.refused]
        if self.warning:
            lines.append(f"warning: {self.warning}")
        return lines


def _fetch(repo: NetworkRepo, records: Records, remote: str) -> SyncResult:
    trust = GoodTrust(repo, records.git, records)
    refused: list[str] = []
    changed = records.fetch_records(remote, lambda _host, sha: trust.release_problem(sha), refused)
    return SyncResult(remote, tuple(changed), tuple(refused))


def fetch_records_before(repo: NetworkRepo) -> SyncResult:
    """Fetch and merge the records remote's records before a run (``RepoError`` when it cannot be read:
    the run would not know the devices' last-good releases, nor could it take their leases)."""
    remote = records_remote(repo)
    if remote is None:
        return SyncResult(None)
    with open_git(repo) as gitrepo:
        try:
            return _fetch(repo, Records(repo, gitrepo), remote)
        except RepoError as exc:
            raise RepoError(
                f"{exc.message}: nothing was touched",
                hint=f"make {remote} reachable; in an emergency `git config {RECORDS_REMOTE_CONFIG} none` "
                "makes this clone work without it (no records shared, no leases: make sure no other clone "
                f"changes these devices), `git config --unset {RECORDS_REMOTE_CONFIG}` undoes it",
            ) from None


def push_records_after(repo: NetworkRepo) -> SyncResult:
    """Push the records after a run; fetch, merge and push again when the remote moved. Never raises:
    a push that fails is ``warning``."""
    try:
        remote = records_remote(repo)
    except NetImmutableError as exc:
        return SyncResult(None, warning=f"records not pushed: {exc.message}")
    if remote is None:
        return SyncResult(None)
    with open_git(repo) as gitrepo:
        records = Records(repo, gitrepo)
        try:
            records.push_records(remote)
            return SyncResult(remote)
        except NetImmutableError:
            pass
        try:  # the remote moved (another clone's run): merge its records, then push once more
            fetched = _fetch(repo, records, remote)
            records.push_records(remote)
            return SyncResult(remote, fetched.changed, fetched.refused)
        except NetImmutableError as exc:
            return SyncResult(
                remote,
                warning=f"the records of this run are not on {remote}: {exc.message}; they are kept in "
                f"this clone only until `netimmutable records fetch {remote} && netimmutable records push "
                f"{remote}` succeeds",
            )
