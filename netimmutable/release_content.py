"""The content rule: a commit is a release when its ``snapshots/`` are exactly what its own inputs render.

Who made the commit does not matter (``netimmutable commit``, a merge request's merge commit or squash,
``git revert``, a cherry-pick, a rebase): the commit's own ``netimmutable.yaml``, ``inventory/`` and
``templates/`` are rendered and compared, file by file, with the commit's own ``snapshots/``. Trailers are
provenance only and never consulted here.

Rendering a commit costs a render of the whole inventory, so the result is cached (``.netimmutable/cache``)
by the *input digest*: the git object ids of the commit's settings blob and of its inventory and templates
trees, plus netimmutable's rendering source and library versions. Two commits with the same inputs (a merge
commit and its feature branch's tip, a revert and the release it returns to) share one render.

On a miss the commit's inputs are taken out of git (``git archive``) into a temporary folder and rendered
there. Only when the commit is ``HEAD`` and nothing under its settings, inputs and snapshots differs from it
(no ignored file either) is the working tree that commit: then its render (through the stat table, which a
``netimmutable commit`` leaves current) is used instead.

Examples:
    >>> ContentCheck("a" * 40, differs=("r1.cfg",)).holds
    False
    >>> ContentCheck("a" * 40).describe()
    'snapshots are what the inputs render'
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import git

from netimmutable import __version__
from netimmutable.artifacts import Release, read_artifacts, resolve_release
from netimmutable.errors import ApprovalError, InputError, RepoError
from netimmutable.inventory import load_inventory
from netimmutable.localcache import digest_of, read_entry, source_digest, write_entry
from netimmutable.render import CONFIG_SUFFIX, refresh_snapshots, render_hosts
from netimmutable.repo import NetworkRepo
from netimmutable.settings import SETTINGS_FILE, Settings, settings_from_mapping
from netimmutable.yamlio import load_yaml_text

__all__ = ["ContentCheck", "check_content", "previous_release", "require_content"]

_RENDER_SOURCES = (
    "render.py",
    "render_cache.py",
    "sandbox.py",
    "filters.py",
    "secretref.py",
    "inventory.py",
    "yamlio.py",
    "settings.py",
    "release_content.py",
)


@dataclass(frozen=True, slots=True)
class ContentCheck:
    """How a commit's ``snapshots/`` compare with what its own inputs render."""

    sha: str
    differs: tuple[str, ...] = ()
    """Snapshot files whose content is not what the inputs render."""
    missing: tuple[str, ...] = ()
    """Files the inputs render that the commit does not hold."""
    extra: tuple[str, ...] = ()
    """Snapshot files of hosts the inputs do not render."""
    error: str | None = None
    """The inputs could not be rendered (a template or inventory error at that commit)."""

    @property
    def holds(self) -> bool:
        return self.error is None and not (self.differs or self.missing or self.extra)

    @property
    def files(self) -> tuple[str, ...]:
        """Every snapshot file that breaks the rule, sorted."""
        return tuple(sorted({*self.differs, *self.missing, *self.extra}))

    def describe(self) -> str:
        if self.error is not None:
            return f"its inputs do not render: {self.error}"
        if self.holds:
            return "snapshots are what the inputs render"
        parts = []
        for label, names in (
            ("differ from the render", self.differs),
            ("missing", self.missing),
            ("not rendered by its inputs", self.extra),
        ):
            if names:
                shown = ", ".join(names[:8]) + (f" (+{len(names) - 8} more)" if len(names) > 8 else "")
                parts.append(f"{label}: {shown}")
        return "snapshots/ is not what its own inputs render (" + "; ".join(parts) + ")"


def _commit_settings(gitrepo: git.Repo, sha: str) -> tuple[str, Settings]:
    """(blob id, parsed settings) of ``netimmutable.yaml`` at ``sha``."""
    try:
        blob = gitrepo.commit(sha).tree / SETTINGS_FILE
    except KeyError:
        raise ApprovalError(
            f"commit {sha[:10]} has no {SETTINGS_FILE}: it is not a release of a network repository"
        ) from None
    text = blob.data_stream.read().decode("utf-8")
    label = f"{SETTINGS_FILE} at {sha[:10]}"
    return str(blob.hexsha), settings_from_mapping(load_yaml_text(text, label), label)


def _tree_id(gitrepo: git.Repo, sha: str, path: str) -> str:
    try:
        return str((gitrepo.commit(sha).tree / path).hexsha)
    except KeyError:
        return ""


def _input_key(gitrepo: git.Repo, sha: str) -> tuple[str, Settings]:
    settings_blob, settings = _commit_settings(gitrepo, sha)
    key = digest_of(
        "release content",
        __version__,
        metadata.version("jinja2"),
        metadata.version("nornir"),
        source_digest(*_RENDER_SOURCES),
        settings_blob,
        _tree_id(gitrepo, sha, settings.inventory_dir),
        _tree_id(gitrepo, sha, settings.templates_dir),
    )
    return key, settings


def _render_commit(gitrepo: git.Repo, sha: str, settings: Settings) -> dict[str, str]:
    """File name -> sha256 of everything the inputs of commit ``sha`` render (in a temporary folder)."""
    paths = [p for p in (SETTINGS_FILE, settings.inventory_dir, settings.templates_dir) if p]
    present = [p for p in paths if p == SETTINGS_FILE or _tree_id(gitrepo, sha, p)]
    try:
        raw = gitrepo.git.archive("--format=tar", sha, "--", *present, stdout_as_string=False)
    except git.GitCommandError as exc:
        raise RepoError(f"git archive of {sha[:10]} failed: {str(exc.stderr).strip() or exc}") from None
    with tempfile.TemporaryDirectory(prefix="netimmutable-release-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            tar.extractall(tmp, filter="data")  # no links or paths out of the folder
        repo = NetworkRepo(root=Path(tmp).resolve(), settings=settings)
        rendered = render_hosts(repo, load_inventory(repo).hosts())
    return {
        name: hashlib.sha256(text.encode("utf-8")).hexdigest()
        for item in rendered
        for name, text in item.files().items()
    }


def _worktree_render(
    repo: NetworkRepo, gitrepo: git.Repo, sha: str, settings: Settings
) -> dict[str, str] | None:
    """The render of commit ``sha`` from the working tree, when the working tree *is* that commit: ``sha`` is
    HEAD, nothing under the settings, inputs and snapshots differs from it (no ignored file either), and the
    snapshots are current (the stat table answers that without rendering after a ``netimmutable commit``).
    None otherwise (then the commit is rendered out of git)."""
    if settings != repo.settings or not gitrepo.head.is_valid() or gitrepo.head.commit.hexsha != sha:
        return None
    paths = [SETTINGS_FILE, settings.inventory_dir, settings.templates_dir, settings.snapshots_dir]
    try:
        out = gitrepo.git.status("--porcelain=v1", "--untracked-files=all", "--ignored", "--", *paths)
    except git.GitCommandError:
        return None
    if out.strip():
        return None
    summary = refresh_snapshots(repo, write=False)
    return dict(summary.digests) if summary.status.current else None


_MEMO: dict[tuple[str, str], ContentCheck] = {}
"""(git dir, commit) -> result in this process: a commit never changes, nor does netimmutable's source."""


def check_content(repo: NetworkRepo, gitrepo: git.Repo, sha: str) -> ContentCheck:
    """Render the inputs of commit ``sha`` (cached by input digest) and compare with its snapshots.

    The cache entry also remembers the snapshots trees (git ids) found equal to the render, so checking
    another commit with the same inputs and the same snapshots reads no blob at all.
    """
    memo_key = (str(gitrepo.git_dir), sha)
    known = _MEMO.get(memo_key)
    if known is not None:
        return known
    key, settings = _input_key(gitrepo, sha)
    entry_name = f"content-{key[:40]}.json"
    entry = read_entry(repo.local_dir, entry_name)
    snapshots_tree = _tree_id(gitrepo, sha, settings.snapshots_dir)
    rendered: dict[str, str] | None = None
    error: str | None = None
    if entry is not None and isinstance(entry.get("files"), dict):
        if snapshots_tree and snapshots_tree in (entry.get("matched") or []):
            return _remember(memo_key, ContentCheck(sha))
        rendered = {str(k): str(v) for k, v in entry["files"].items()}
    elif entry is not None and isinstance(entry.get("error"), str):
        error = entry["error"]
    else:
        try:
            rendered = _worktree_render(repo, gitrepo, sha, settings)
            if rendered is None:
                rendered = _render_commit(gitrepo, sha, settings)
            entry = {"files": rendered}
            write_entry(repo.local_dir, entry_name, entry)
        except InputError as exc:  # deterministic: the same inputs fail the same way
            error = str(exc).splitlines()[0]
            write_entry(repo.local_dir, entry_name, {"error": error})
        except (tarfile.TarError, OSError) as exc:  # e.g. a link out of the folder: never rendered
            error = f"its inputs cannot be taken out of git safely ({exc})"
    if rendered is None:
        return _remember(memo_key, ContentCheck(sha, error=error or "unknown render failure"))
    committed = {
        name: hashlib.sha256(text.encode("utf-8")).hexdigest()
        for name, text in read_artifacts(gitrepo, sha, settings.snapshots_dir).items()
    }
    result = ContentCheck(
        sha,
        differs=tuple(sorted(n for n in rendered if n in committed and committed[n] != rendered[n])),
        missing=tuple(sorted(n for n in rendered if n not in committed)),
        extra=tuple(sorted(n for n in committed if n not in rendered)),
    )
    if result.holds and snapshots_tree and entry is not None:
        matched = [str(t) for t in entry.get("matched") or []][-15:]
        write_entry(repo.local_dir, entry_name, {"files": rendered, "matched": [*matched, snapshots_tree]})
    return _remember(memo_key, result)


def _remember(key: tuple[str, str], result: ContentCheck) -> ContentCheck:
    if len(_MEMO) >= 1024:
        _MEMO.clear()
    _MEMO[key] = result
    return result


def require_content(
    repo: NetworkRepo, gitrepo: git.Repo, sha: str, *, allow_stale: bool, what: str = "commit"
) -> str | None:
    """Refuse commit ``sha`` unless the content rule holds; with ``allow_stale`` return the note to record."""
    result = check_content(repo, gitrepo, sha)
    if result.holds:
        return None
    problem = result.describe()
    if not allow_stale:
        raise ApprovalError(
            f"{what} {sha[:10]} is not a release: {problem}",
            file=f"{repo.settings.snapshots_dir}/{result.files[0]}" if result.files else None,
            hint="render and commit its inputs (`netimmutable commit`) and merge that; "
            "--allow-stale overrides (recorded)",
        )
    return f"{what} {sha[:10]}: {problem}; allowed by --allow-stale"


PREVIOUS_RELEASE_DEPTH = 200
"""How many first-parent commits before a revision ``previous_release`` looks at."""


def previous_release(
    repo: NetworkRepo, gitrepo: git.Repo, rev: str, *, depth: int = PREVIOUS_RELEASE_DEPTH
) -> Release | None:
    """The newest commit strictly before ``rev`` (following first parents) that is a release by the content
    rule: made by ``netimmutable commit`` or not (a squash, a merge, a revert). A commit that only changed
    other files (a README) is one too, with the same snapshots as the release before it. A commit without
    any rendered config is not (the first commits of a repository). None when no such commit is found
    within ``depth`` commits."""
    try:
        out = gitrepo.git.rev_list("--first-parent", f"--max-count={depth}", f"{rev}^", "--")
    except git.GitCommandError:
        return None  # rev is the root commit
    for sha in out.split():
        if (
            _has_configs(gitrepo, sha, repo.settings.snapshots_dir)
            and check_content(repo, gitrepo, sha).holds
        ):
            return resolve_release(gitrepo, sha)
    return None


def _has_configs(gitrepo: git.Repo, sha: str, snapshots_dir: str) -> bool:
    """Whether commit ``sha`` holds any rendered config (a repository's first commits hold none: an empty
    inventory renders nothing, which the content rule alone would call a release)."""
    try:
        tree = gitrepo.commit(sha).tree / snapshots_dir
    except KeyError:
        return False
    return any(blob.name.endswith(CONFIG_SUFFIX) for blob in tree.blobs)
