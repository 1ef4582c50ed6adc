"""Releases in git: the only module that reads or writes the network repository's history.

A release is a commit whose ``snapshots/`` were rendered from the ``inventory/`` and ``templates/`` of the
same commit. Its message carries trailers with the tool version and a digest of every artifact.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import os
import socket
import subprocess
import tempfile
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git

from netimmutable import __version__
from netimmutable.errors import InputError, RepoError
from netimmutable.render import CONFIG_SUFFIX, EXPECT_SUFFIX, RenderedHost
from netimmutable.repo import NetworkRepo
from netimmutable.settings import SETTINGS_FILE
from netimmutable.utctime import utc_text

__all__ = [
    "DIGEST_TRAILER",
    "OWN_PROCESS_GROUP",
    "RENDER_TRAILER",
    "VERSION_TRAILER",
    "CommitResult",
    "Release",
    "artifacts_digest",
    "artifacts_digest_of_hashes",
    "close_all_git",
    "commit_release",
    "dirty_paths",
    "git_env",
    "git_identity",
    "host_of",
    "hosts_in",
    "open_git",
    "read_artifacts",
    "read_blobs",
    "resolve_release",
    "snapshot_ids",
]

VERSION_TRAILER = "Netimmutable-Version"
DIGEST_TRAILER = "Netimmutable-Digest"
RENDER_TRAILER = "Netimmutable-Render-Seconds"
"""How long ``netimmutable commit`` took to render the release (provenance, read by ``metrics``)."""


@dataclass(frozen=True, slots=True)
class Release:
    """A commit of the network repository."""

    sha: str
    summary: str
    author: str
    committed_utc: str
    digest: str | None
    """The artifact digest trailer; None for a commit that netimmutable did not make."""

    @property
    def short(self) -> str:
        return self.sha[:10]


@dataclass(frozen=True, slots=True)
class CommitResult:
    release: Release | None
    """None when nothing changed (no empty commits)."""
    changed_files: tuple[str, ...]
    unrelated_dirty: tuple[str, ...]


_OPENED: weakref.WeakValueDictionary[int, git.Repo] = weakref.WeakValueDictionary()
"""Every repo ``open_git`` handed out, by identity: ``git.Repo`` compares and hashes by its directory, so a
set would keep only one of two repos opened on the same directory and never close the other."""
OWN_PROCESS_GROUP: dict[str, Any] = {"process_group": 0}
"""``subprocess`` keywords for every child netimmutable starts (git, secrets commands): its own process group,
so the SIGINT a terminal sends to its foreground group on Ctrl-C reaches netimmutable alone, which decides
what to stop; a git process killed mid-write would lose the run record."""


class _OwnGroupGit(git.Git):
    """GitPython's git runner, starting each git (its persistent cat-file helpers too) in its own group."""

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return super().execute(*args, **{**OWN_PROCESS_GROUP, **kwargs})


class _Repo(git.Repo):
    GitCommandWrapperType = _OwnGroupGit


def open_git(repo: NetworkRepo) -> git.Repo:
    """The network repository's git repo. Use it as a context manager, or rely on ``close_all_git``."""
    try:
        gitrepo = _Repo(repo.root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise RepoError(
            f"{repo.root} is not a git repository", hint="`netimmutable init` creates one, or run `git init`"
        ) from None
    _OPENED[id(gitrepo)] = gitrepo
    return gitrepo


def close_all_git() -> None:
    """Close every repo ``open_git`` handed out (stops git's cat-file helpers); run after each command.

    The repos stay known until they are garbage: one used again after this starts new helpers, which the
    next call stops too."""
    for gitrepo in list(_OPENED.values()):
        gitrepo.close()


def git_identity(gitrepo: git.Repo) -> tuple[str, str, bool]:
    """(name, email, configured): the user's git identity, or a clear fallback when none is configured."""
    reader = gitrepo.config_reader()
    name = reader.get_value("user", "name", default="") or os.environ.get("GIT_AUTHOR_NAME", "")
    email = reader.get_value("user", "email", default="") or os.environ.get("GIT_AUTHOR_EMAIL", "")
    if name and email:
        return str(name), str(email), True
    user = getpass.getuser()
    return str(name or f"{user} (netimmutable)"), str(email or f"{user}@{socket.gethostname()}"), False


def git_env(gitrepo: git.Repo, identity: tuple[str, str, bool] | None = None) -> dict[str, str]:
    """Environment for commits: the fallback identity when the user has none configured.

    ``identity``: a ``git_identity`` result already read (saves reading git's config again).
    """
    name, email, configured = identity or git_identity(gitrepo)
    if configured:
        return {}
    return {
        f"GIT_{role}_{key}": value
        for role in ("AUTHOR", "COMMITTER")
        for key, value in (("NAME", name), ("EMAIL", email))
    }


def artifacts_digest(files: Mapping[str, str]) -> str:
    """One sha256 over every artifact (file name and content), independent of order.

    Examples:
        >>> artifacts_digest({"r1.cfg": "a\\n"}) == artifacts_digest({"r1.cfg": "a\\n"})
        True
        >>> artifacts_digest({"r1.cfg": "a\\n"}) == artifacts_digest({"r1.cfg": "b\\n"})
        False
    """
    return artifacts_digest_of_hashes(
        {name: hashlib.sha256(text.encode()).hexdigest() for name, text in files.items()}
    )


def artifacts_digest_of_hashes(hashes: Mapping[str, str]) -> str:
    """``artifacts_digest`` from each file's sha256 (hex) instead of its content.

    Examples:
        >>> artifacts_digest_of_hashes({"r1.cfg": hashlib.sha256(b"a\\n").hexdigest()}) == artifacts_digest(
        ...     {"r1.cfg": "a\\n"}
        ... )
        True
    """
    outer = hashlib.sha256()
    for name in sorted(hashes):
        outer.update(name.encode() + b"\0" + hashes[name].encode() + b"\n")
    return f"sha256:{outer.hexdigest()}"


def _release_paths(repo: NetworkRepo) -> list[str]:
    s = repo.settings
    return [SETTINGS_FILE, s.inventory_dir, s.templates_dir, s.snapshots_dir]


def _porcelain(gitrepo: git.Repo, *paths: str) -> list[str]:
    """The paths ``git status`` reports. ``GIT_OPTIONAL_LOCKS=0``: a read only, so git does not refresh
    the index in passing (that write needs ``index.lock`` and disk space; on a full disk it failed)."""
    try:
        out = gitrepo.git.status(
            "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths, env={"GIT_OPTIONAL_LOCKS": "0"}
        )
    except git.GitCommandError as exc:
        reason = str(exc.stderr).strip().removeprefix("stderr: ").strip("'").strip() or str(exc)
        raise RepoError(
            f"cannot tell whether the working tree is clean: git status failed: {reason}",
            file=str(gitrepo.working_tree_dir or gitrepo.git_dir),
            hint="fix the cause (a full disk: free space on the repository's disk) and run the command again",
        ) from None
    entries = [e for e in out.split("\0") if e]
    result: list[str] = []
    skip = False
    for entry in entries:
        if skip:  # the source path of a rename
            skip = False
            continue
        if entry[0] in "RC":
            skip = True
        result.append(entry[3:])
    return result


def dirty_paths(repo: NetworkRepo, gitrepo: git.Repo) -> tuple[str, ...]:
    """Every modified, staged or untracked path of the working tree (ignored files excluded)."""
    return tuple(sorted(_porcelain(gitrepo)))


def _release_from_commit(commit: git.Commit) -> Release:
    author = f"{commit.author.name} <{commit.author.email}>"
    return _release(commit.hexsha, author, commit.committed_date, str(commit.message))


def _release(sha: str, author: str, committed: int, message: str) -> Release:
    digest = None
    for line in message.splitlines():
        if line.startswith(f"{DIGEST_TRAILER}: "):
            digest = line.split(": ", 1)[1].strip()
    return Release(
        sha=sha,
        summary=message.splitlines()[0] if message else "",
        author=author,
        committed_utc=utc_text(committed),
        digest=digest,
    )


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(f"{root}/") for root in roots)


def _file_digests(rendered: Sequence[RenderedHost] | Mapping[str, str]) -> Mapping[str, str]:
    if isinstance(rendered, Mapping):
        return rendered
    return {
        name: hashlib.sha256(content.encode()).hexdigest()
        for item in rendered
        for name, content in item.files().items()
    }


def _head_release(gitrepo: git.Repo) -> Release:
    """HEAD as a Release, through one `git log` (GitPython would start two cat-file helpers)."""
    out = gitrepo.git.log(
        "-1", "--format=%H%x00%an%x00%ae%x00%ct%x00%B", "HEAD", strip_newline_in_stdout=False
    )
    sha, name, email, committed, message = out.split("\0", 4)
    return _release(sha, f"{name} <{email}>", int(committed), message)


def commit_release(
    repo: NetworkRepo,
    gitrepo: git.Repo,
    rendered: Sequence[RenderedHost] | Mapping[str, str],
    message: str | None,
    render_seconds: float | None = None,
) -> CommitResult:
    """Commit inputs and snapshots as one release. Returns ``release=None`` when nothing changed.

    ``render_seconds``: how long rendering it took, written as a trailer (``RENDER_TRAILER``).

    ``rendered``: every rendered host, or file name -> sha256 (hex) of every artifact (``RenderSummary``).
    Refuses inputs git ignores (``ls-files``); then ``add --all -- <release paths>``, one ``status`` (what
    changed in the release paths, what else is dirty) and the commit: the index's tree when only release
    paths differ from HEAD (``_commit_index_tree``), else ``commit -- <release paths>``. When the commit
    fails (a signing program that fails, a full disk), nothing is committed and the index is put back as
    it was: nothing is left staged.
    """
    paths = [p for p in _release_paths(repo) if (repo.root / p).exists()]
    _refuse_ignored_inputs(repo, gitrepo)
    digest = artifacts_digest_of_hashes(_file_digests(rendered))
    with _index_kept_on_failure(gitrepo):  # a failed commit (signing, disk full) leaves nothing staged
        changed, unrelated = _stage_and_commit(repo, gitrepo, paths, message, digest, render_seconds)
    if not changed:
        return CommitResult(release=None, changed_files=(), unrelated_dirty=unrelated)
    return CommitResult(release=_head_release(gitrepo), changed_files=changed, unrelated_dirty=unrelated)


def _stage_and_commit(
    repo: NetworkRepo,
    gitrepo: git.Repo,
    paths: Sequence[str],
    message: str | None,
    digest: str,
    render_seconds: float | None = None,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Stage the release paths and commit them; (changed files, unrelated dirty files). Nothing is committed
    (and ``changed`` is empty) when the release paths are unchanged."""
    try:
        # Staging first: afterwards the release paths' changes are all staged, and one `git status` tells
        # the release's files from everything else.
        gitrepo.git.add("--all", "--", *paths)
        out = gitrepo.git.status("--porcelain=v1", "-z", "--untracked-files=all")
    except git.GitCommandError as exc:
        raise _commit_failed(exc) from None
    changed_set: set[str] = set()
    unrelated_set: set[str] = set()
    entries = iter(e for e in out.split("\0") if e)
    for entry in entries:
        staged, path = entry[0] not in " ?!", entry[3:]
        if entry[0] in "RC":
            next(entries, "")  # a rename's (or copy's) source path follows: not a change of its own
        if _under(path, paths) and staged:
            changed_set.add(path)
        else:  # outside the release, or changed again since `git add` (not committed)
            unrelated_set.add(path)
    changed = tuple(sorted(changed_set))
    unrelated = tuple(sorted(unrelated_set))
    if not changed:
        return (), unrelated
    hosts_changed = sorted(
        {
            Path(c).name.removesuffix(EXPECT_SUFFIX).removesuffix(CONFIG_SUFFIX)
            for c in changed
            if c.startswith(repo.settings.snapshots_dir + "/")
        }
    )
    summary = message or (
        f"release: {len(hosts_changed)} device(s) changed"
        + (
            f" ({', '.join(hosts_changed[:8])}{', ...' if len(hosts_changed) > 8 else ''})"
            if hosts_changed
            else ""
        )
    )
    full = f"{summary.strip()}\n\n{VERSION_TRAILER}: {__version__}\n{DIGEST_TRAILER}: {digest}\n"
    if render_seconds is not None:
        full += f"{RENDER_TRAILER}: {render_seconds:.3f}\n"
    try:
        if not _commit_index_tree(gitrepo, paths, full):
            # Something else is in the index too (or a merge, an unborn branch, signed commits): pathspecs
            # keep it out of the release. It costs git a temporary second index (~0.15 s at 10,000 files).
            gitrepo.git.commit("--quiet", "--no-verify", "-m", full, "--", *paths, env=git_env(gitrepo))
    except git.GitCommandError as exc:
        raise _commit_failed(exc) from None
    return changed, unrelated


_SAVED_INDEX = "index.netimmutable-saved"


@contextlib.contextmanager
def _index_kept_on_failure(gitrepo: git.Repo) -> Iterator[None]:
    """Put the index back as it was when the body fails (``git add`` staged the release, then the commit
    failed: a signing program that is missing, a full disk).

    The old index is kept under a second name (a hard link: no data is copied, so this works on a full
    disk); git replaces ``index`` by renaming a new file over it, never in place, so the link still holds
    the old one, and putting it back is one rename.
    """
    index = Path(gitrepo.git_dir) / "index"
    saved = index.with_name(_SAVED_INDEX)
    saved.unlink(missing_ok=True)
    existed = index.exists()
    try:
        if existed:
            os.link(index, saved)
    except OSError as exc:
        raise RepoError(
            f"nothing was committed: the index could not be kept aside ({exc.strerror or exc})",
            hint="free space on the repository's disk, then run `netimmutable commit` again",
        ) from None
    try:
        yield
    except BaseException:
        if existed:
            saved.replace(index)
        else:
            index.unlink(missing_ok=True)
        raise
    finally:
        saved.unlink(missing_ok=True)


def _commit_failed(exc: git.GitCommandError) -> RepoError:
    return RepoError(
        f"git commit failed: {str(exc.stderr).strip() or exc}",
        hint="nothing was committed and the index is as it was; fix the cause (commit signing: "
        "`git config commit.gpgsign`, `gpg.program`; disk space) and run `netimmutable commit` again",
    )


def _refuse_ignored_inputs(repo: NetworkRepo, gitrepo: git.Repo) -> None:
    """Refuse a release whose inputs include files git ignores: the render reads them, the release commit
    would not hold them, and the release would not render the same anywhere else (hidden files, such as
    an editor's, are left alone)."""
    folders = [
        p for p in (repo.settings.templates_dir, repo.settings.inventory_dir) if (repo.root / p).is_dir()
    ]
    if not folders:
        return
    try:
        out = gitrepo.git.ls_files("--others", "--ignored", "--exclude-standard", "-z", "--", *folders)
    except git.GitCommandError as exc:
        raise RepoError(f"git ls-files failed: {exc.stderr.strip() or exc}") from None
    ignored = sorted(p for p in out.split("\0") if p and not Path(p).name.startswith("."))
    if ignored:
        more = f" (and {len(ignored) - 1} more)" if len(ignored) > 1 else ""
        raise InputError(
            f"git ignores this input file{more}: the render reads it but a release commit would not hold "
            "it, so the release would not render the same from a clone",
            file=ignored[0],
            hint="stop ignoring it (.gitignore, .git/info/exclude) or move it out of the repository's inputs",
        )


def _commit_index_tree(gitrepo: git.Repo, paths: Sequence[str], message: str) -> bool:
    """Commit the index as one tree when it differs from HEAD only under ``paths``; False: not done.

    ``write-tree`` takes one immutable snapshot of the index; what goes into the commit is exactly that
    tree, checked path by path against HEAD, so a file another program stages meanwhile cannot slip in
    (it is in the next snapshot, not this one). HEAD moves by compare-and-swap. Signed commits, an
    unborn branch and unmerged entries take ``git commit`` instead.
    """
    if gitrepo.config_reader().get_value("commit", "gpgsign", False) not in (False, "false"):
        return False
    try:
        head = gitrepo.git.rev_parse("--verify", "--quiet", "HEAD^{commit}").strip()
        tree = gitrepo.git.write_tree().strip()
    except git.GitCommandError:  # no commit yet, or unmerged entries in the index
        return False
    out = gitrepo.git.diff_tree("-r", "--name-only", "-z", "--no-renames", head, tree)
    changed = [path for path in out.split("\0") if path]
    if not changed or not all(_under(path, paths) for path in changed):
        return False
    with tempfile.TemporaryFile() as stdin:
        stdin.write(message.encode("utf-8"))
        stdin.seek(0)
        commit = gitrepo.git.commit_tree(tree, "-p", head, "-F", "-", istream=stdin, env=git_env(gitrepo))
    summary = message.splitlines()[0] if message else ""
    gitrepo.git.update_ref("-m", f"commit: {summary}", "HEAD", commit.strip(), head)
    return True


def resolve_release(gitrepo: git.Repo, rev: str) -> Release:
    try:
        commit = gitrepo.commit(rev)
    except (git.BadName, ValueError, git.GitCommandError):
        raise RepoError(f"unknown revision {rev!r}") from None
    return _release_from_commit(commit)


def snapshot_ids(gitrepo: git.Repo, rev: str, snapshots_dir: str) -> tuple[str, dict[str, str]]:
    """What a release's artifacts are, independent of the commit holding them: the git tree of
    ``snapshots_dir`` at ``rev`` ("" when it has none) and, per artifact file name, its blob sha."""
    try:
        tree = gitrepo.commit(rev).tree / snapshots_dir
    except KeyError:
        return "", {}
    return tree.hexsha, {
        blob.name: blob.hexsha for blob in tree.blobs if blob.name.endswith((CONFIG_SUFFIX, EXPECT_SUFFIX))
    }


def read_artifacts(gitrepo: git.Repo, rev: str, snapshots_dir: str) -> dict[str, str]:
    """File name -> content of every artifact under ``snapshots_dir`` at ``rev`` (one cat-file process)."""
    commit = gitrepo.commit(rev)
    try:
        tree = commit.tree / snapshots_dir
    except KeyError:
        return {}
    wanted = [
        (blob.name, blob.hexsha) for blob in tree.blobs if blob.name.endswith((CONFIG_SUFFIX, EXPECT_SUFFIX))
    ]
    contents = read_blobs(gitrepo, [sha for _, sha in wanted])
    return {name: contents[sha].decode("utf-8") for name, sha in wanted}


def read_blobs(gitrepo: git.Repo, shas: Sequence[str]) -> dict[str, bytes]:
    """sha -> content of every blob in ``shas``, through one ``git cat-file --batch`` process (a round
    trip per blob through GitPython's persistent cat-file costs ~0.3 ms; a release has thousands)."""
    unique = list(dict.fromkeys(shas))
    if not unique:
        return {}
    proc = subprocess.run(
        ["git", "--git-dir", str(gitrepo.git_dir), "cat-file", "--batch"],
        input="".join(f"{sha}\n" for sha in unique).encode("ascii"),
        capture_output=True,
        check=False,
        **OWN_PROCESS_GROUP,
    )
    if proc.returncode != 0:
        raise RepoError(f"git cat-file failed: {proc.stderr.decode(errors='replace').strip()}")
    out, pos, result = proc.stdout, 0, {}
    for sha in unique:
        end = out.index(b"\n", pos)
        header = out[pos:end].split(b" ")
        if len(header) != 3 or header[1] != b"blob":
            raise RepoError(f"git cat-file: {sha} is not a blob ({out[pos:end].decode(errors='replace')})")
        size = int(header[2])
        result[sha] = out[end + 1 : end + 1 + size]
        pos = end + 1 + size + 1
    return result


def host_of(file_name: str) -> str:
    """``r1.cfg`` / ``r1.expect.yaml`` -> ``r1``."""
    return file_name.removesuffix(EXPECT_SUFFIX).removesuffix(CONFIG_SUFFIX)


def hosts_in(files: Iterable[str]) -> list[str]:
    return sorted({host_of(f) for f in files})
