"""Reading the ``History`` ``netimmutable.metrics`` computes from: records in git, inventory, last verify.

- runs: every run record of ``refs/netimmutable/runs`` (merge commits of fetched records hold none);
- coverage: each inventory host, whether it has a good ref, whether its entry template (``template``) lies
  under ``templates/adopted/`` (a verbatim copy of a running config), whether HEAD's snapshots hold its
  expectations;
- verifies: each inventory host's last verify from ``.netimmutable/verify-state.json`` (local to this
  checkout: the machine that runs the scheduled verify is the one that knows about drift);
- releases: the render time trailer of every release on HEAD's history that ``netimmutable commit`` made.

Nothing is written: metrics keep no state of their own.
"""

from __future__ import annotations

import datetime as dt

import git

from netimmutable.artifacts import RENDER_TRAILER, open_git
from netimmutable.inventory import LoadedInventory
from netimmutable.metrics import History, HostFacts, ReleaseTiming, VerifySeen, format_utc, parse_utc
from netimmutable.records import Records
from netimmutable.render import EXPECT_SUFFIX
from netimmutable.repo import ADOPTED_TEMPLATE_DIR, NetworkRepo
from netimmutable.verify_model import HostState
from netimmutable.verify_state import read_verify_state

__all__ = ["load_history", "release_timings"]

_ALL_RUNS = 1_000_000


def release_timings(gitrepo: git.Repo, rev: str = "HEAD") -> tuple[ReleaseTiming, ...]:
    """Every commit on ``rev``'s history whose message carries ``RENDER_TRAILER``, oldest first."""
    try:
        out = gitrepo.git.log(
            "--format=%H%x1f%ct%x1f%(trailers:key=" + RENDER_TRAILER + ",valueonly,separator=%x1f)%x1e", rev
        )
    except git.GitCommandError:
        return ()  # an unborn branch: no release yet
    timings: list[ReleaseTiming] = []
    for item in out.split("\x1e"):
        fields = item.strip().split("\x1f")
        if len(fields) < 3 or not fields[2].strip():
            continue
        try:
            seconds = float(fields[2].strip())
        except ValueError:
            continue  # a hand-written trailer that is no number says nothing
        when = format_utc(dt.datetime.fromtimestamp(int(fields[1]), dt.UTC))
        timings.append(ReleaseTiming(fields[0], when, seconds))
    return tuple(reversed(timings))


def _expectation_hosts(gitrepo: git.Repo, snapshots_dir: str) -> set[str]:
    try:
        out = gitrepo.git.ls_tree("--name-only", "HEAD", f"{snapshots_dir}/")
    except git.GitCommandError:
        return set()
    names = (line.rsplit("/", 1)[-1] for line in out.splitlines())
    return {n.removesuffix(EXPECT_SUFFIX) for n in names if n.endswith(EXPECT_SUFFIX)}


def _verifies(repo: NetworkRepo, names: set[str]) -> tuple[VerifySeen, ...]:
    """The last verify of each inventory host (a host removed from the inventory no longer counts)."""
    seen: list[VerifySeen] = []
    for name, entry in sorted(read_verify_state(repo).items()):
        if name not in names:
            continue
        try:
            state = HostState(entry.state)
            parse_utc(entry.when_utc)
            parse_utc(entry.since_utc)
        except ValueError:
            continue  # an entry this version cannot read proves nothing
        seen.append(VerifySeen(name, state, entry.when_utc, entry.since_utc))
    return tuple(seen)


def load_history(repo: NetworkRepo, loaded: LoadedInventory) -> History:
    """Everything ``metrics.compute`` needs, read from ``repo`` (see the module docstring)."""
    names = [h.name for h in loaded.hosts()]
    with open_git(repo) as gitrepo:
        records = Records(repo, gitrepo)
        runs = tuple(records.runs(limit=_ALL_RUNS))
        good = records.last_good_many(names)
        expecting = _expectation_hosts(gitrepo, repo.settings.snapshots_dir)
        releases = release_timings(gitrepo)
    hosts = tuple(
        HostFacts(
            host=h.name,
            managed=good.get(h.name) is not None,
            adopted=str(h.get("template") or "").startswith(f"{ADOPTED_TEMPLATE_DIR}/"),
            expectations=h.name in expecting,
        )
        for h in loaded.hosts()
    )
    return History(runs=runs, hosts=hosts, verifies=_verifies(repo, set(names)), releases=releases)
