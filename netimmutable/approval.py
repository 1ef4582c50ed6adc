"""Approval from outside the release: which branch approves, where its tip is, what it approves.

A release never approves itself. The approval branch's name comes from, in this order:

1. local, untracked configuration: ``git config netimmutable.approvalBranch NAME`` (stored in the
   repository's git config, shared by its worktrees, never committed);
2. the ``approval_branch`` setting of ``netimmutable.yaml`` *at the tip of the default branch* (the
   remote's default branch, ``origin/HEAD``, when the clone knows it, else ``main``). When that setting
   names another branch, that branch's own tip must name itself too.

The ``approval_branch`` of the working tree, or of the commit being deployed, is never read.

The tip is the remote-tracking branch (``refs/remotes/origin/<branch>``) when the repository has a remote
``origin``, else the local branch (``refs/heads/<branch>``): local commits nobody reviewed are not approved
in a clone that has a remote. The remote is ``origin`` unless ``git config netimmutable.approvalRemote
NAME`` names another (``none``: the local branch approves). Nothing here needs a checked-out branch: a
detached-HEAD clone without a local ``main`` (a CI runner) works.

Examples:
    >>> tip_ref("main", remote="origin"), tip_ref("main", remote=None)
    ('refs/remotes/origin/main', 'refs/heads/main')
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import git

from netimmutable.artifacts import Release, dirty_paths, resolve_release
from netimmutable.errors import ApprovalError, InputError
from netimmutable.repo import NetworkRepo
from netimmutable.settings import SETTINGS_FILE, Settings, settings_from_mapping
from netimmutable.yamlio import load_yaml_text

__all__ = [
    "APPROVAL_CONFIG",
    "APPROVAL_REMOTE",
    "APPROVAL_REMOTE_CONFIG",
    "SHALLOW_HINT",
    "Approval",
    "approval",
    "approved_settings",
    "check_approved",
    "is_approved",
    "is_shallow",
    "reachable",
    "settings_at",
    "tip_ref",
]

APPROVAL_CONFIG = "netimmutable.approvalBranch"
"""git config key of the local, untracked approval branch setting."""
APPROVAL_REMOTE = "origin"
"""The remote whose tracking branch approves, when the repository has it (by default)."""
APPROVAL_REMOTE_CONFIG = "netimmutable.approvalRemote"
"""git config key of the local, untracked approval remote (``none``: the local branch approves)."""
DEFAULT_BRANCH = "main"
SHALLOW_HINT = (
    "this is a shallow clone, whose history is cut: `git fetch --unshallow` (in CI, a full-depth checkout)"
)


@dataclass(frozen=True, slots=True)
class Approval:
    """The approval branch as this repository sees it."""

    branch: str
    ref: str
    """Full ref name of its tip: ``refs/remotes/origin/<branch>`` or ``refs/heads/<branch>``."""
    sha: str
    source: str
    """Where the branch's name was read (shown in refusals)."""

    @property
    def label(self) -> str:
        """``origin/main`` or ``main``."""
        return self.ref.removeprefix("refs/remotes/").removeprefix("refs/heads/")


def tip_ref(branch: str, *, remote: str | None) -> str:
    """The ref whose commit approves: the remote-tracking branch when there is a remote."""
    return f"refs/remotes/{remote}/{branch}" if remote else f"refs/heads/{branch}"


def _remote(gitrepo: git.Repo) -> str | None:
    """The approval remote: ``git config netimmutable.approvalRemote`` when set, else ``origin`` when the
    repository has it, else None (the local branch approves)."""
    names = {r.name for r in gitrepo.remotes}
    configured = str(gitrepo.config_reader().get_value("netimmutable", "approvalRemote", default="")).strip()
    if not configured:
        return APPROVAL_REMOTE if APPROVAL_REMOTE in names else None
    if configured == "none":
        return None
    if configured not in names:
        raise ApprovalError(
            f"approval remote {configured!r} (git config {APPROVAL_REMOTE_CONFIG}) is not a remote of this "
            "repository",
            hint=f"`git remote add {configured} URL`, or `git config --unset {APPROVAL_REMOTE_CONFIG}`",
        )
    return configured


def _sha(gitrepo: git.Repo, ref: str) -> str | None:
    try:
        return str(gitrepo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}")).strip() or None
    except git.GitCommandError:
        return None


def settings_at(gitrepo: git.Repo, sha: str, label: str) -> Settings:
    """The settings of ``netimmutable.yaml`` at commit ``sha`` (all defaults when it has none)."""
    try:
        blob = gitrepo.commit(sha).tree / SETTINGS_FILE
    except KeyError:
        return Settings()
    where = f"{SETTINGS_FILE} at {label}"
    return settings_from_mapping(load_yaml_text(blob.data_stream.read().decode("utf-8"), where), where)


def _setting_at(gitrepo: git.Repo, sha: str, label: str) -> str:
    """``approval_branch`` of ``netimmutable.yaml`` at commit ``sha``."""
    return settings_at(gitrepo, sha, label).approval_branch


def approved_settings(gitrepo: git.Repo) -> tuple[Settings, str] | None:
    """The settings at the approval branch's tip, and where they were read (``netimmutable.yaml at
    origin/main``); None when there is no approval tip to read (then the defaults hold, never the settings
    of the release being deployed)."""
    try:
        approved = approval(gitrepo)
        return settings_at(gitrepo, approved.sha, approved.label), f"{SETTINGS_FILE} at {approved.label}"
    except (ApprovalError, InputError):
        return None


def _missing(branch: str, ref: str, remote: str | None) -> ApprovalError:
    hint = (
        f"`git fetch {remote} {branch}` (approval is read from the remote-tracking branch), or set "
        f"`git config {APPROVAL_CONFIG} NAME`"
        if remote
        else f"create it, or set `git config {APPROVAL_CONFIG} NAME` (local, untracked)"
    )
    return ApprovalError(f"approval branch {branch!r} does not exist ({ref} not found)", hint=hint)


def _tip(gitrepo: git.Repo, branch: str, remote: str | None) -> tuple[str, str, str]:
    """(ref, sha, label) of ``branch``'s tip (the remote-tracking one when there is a remote), or the
    ApprovalError that says it is missing."""
    ref = tip_ref(branch, remote=remote)
    sha = _sha(gitrepo, ref)
    if sha is None:
        raise _missing(branch, ref, remote)
    return ref, sha, ref.removeprefix("refs/remotes/").removeprefix("refs/heads/")


def approval(gitrepo: git.Repo) -> Approval:
    """The approval branch and its tip (see the module docstring); refuses when it cannot be established."""
    remote = _remote(gitrepo)
    configured = gitrepo.config_reader().get_value("netimmutable", "approvalBranch", default="")
    if configured:
        branch = str(configured)
        ref = tip_ref(branch, remote=remote)
        sha = _sha(gitrepo, ref)
        if sha is None:
            raise _missing(branch, ref, remote)
        return Approval(branch, ref, sha, f"git config {APPROVAL_CONFIG}")
    anchor = DEFAULT_BRANCH
    if remote:
        head = _sha(gitrepo, f"refs/remotes/{remote}/HEAD")
        if head is not None:
            with contextlib.suppress(git.GitCommandError):
                name = gitrepo.git.symbolic_ref("--short", f"refs/remotes/{remote}/HEAD").strip()
                anchor = name.removeprefix(f"{remote}/") or anchor
    ref, sha, label = _tip(gitrepo, anchor, remote)
    branch = _setting_at(gitrepo, sha, label)
    if branch == anchor:
        return Approval(branch, ref, sha, f"approval_branch in {SETTINGS_FILE} at the tip of {label}")
    named_ref, named, own_label = _tip(gitrepo, branch, remote)
    own = _setting_at(gitrepo, named, own_label)
    if own != branch:
        raise ApprovalError(
            f"approval branch settings disagree: {label} names {branch!r}, whose own tip names {own!r}",
            hint=f"fix approval_branch through review, or set `git config {APPROVAL_CONFIG} NAME`",
        )
    return Approval(branch, named_ref, named, f"approval_branch in {SETTINGS_FILE} at the tip of {label}")


def is_shallow(gitrepo: git.Repo) -> bool:
    """Whether the clone is shallow (``git clone --depth``, a CI checkout): its history is cut."""
    try:
        return str(gitrepo.git.rev_parse("--is-shallow-repository")).strip() == "true"
    except git.GitCommandError:
        return False


def reachable(gitrepo: git.Repo, sha: str, tip: str) -> bool | None:
    """Whether commit ``sha`` is reachable from ``tip``; None when that cannot be proven either way: the
    clone is shallow, so ``sha`` may sit below the cut (or be missing) although the full history holds it.
    """
    try:
        gitrepo.git.merge_base("--is-ancestor", sha, tip)
    except git.GitCommandError:
        return None if is_shallow(gitrepo) else False
    return True


def is_approved(gitrepo: git.Repo, sha: str, approved: Approval) -> bool:
    """Whether commit ``sha`` is proven reachable from the approval branch's tip."""
    return reachable(gitrepo, sha, approved.sha) is True


def check_approved(repo: NetworkRepo, gitrepo: git.Repo, rev: str, *, allow_dirty: bool = False) -> Release:
    """Refuse a release that is not reachable from the approval branch, or a dirty working tree."""
    release = resolve_release(gitrepo, rev)
    try:
        approved = approval(gitrepo)
    except InputError as exc:  # a broken netimmutable.yaml on the approval branch
        raise ApprovalError(f"the approval branch's settings cannot be read: {exc}") from None
    on_branch = reachable(gitrepo, release.sha, approved.sha)
    if on_branch is None:
        raise ApprovalError(
            f"release {release.short} cannot be proven to be on the approval branch {approved.label!r} "
            f"(read from {approved.source})",
            hint=SHALLOW_HINT,
        )
    if not on_branch:
        raise ApprovalError(
            f"release {release.short} is not on the approval branch {approved.label!r} "
            f"(read from {approved.source})",
            hint=f"merge it into {approved.branch} through review first",
        )
    if not allow_dirty:
        dirty = dirty_paths(repo, gitrepo)
        if dirty:
            shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
            raise ApprovalError(
                f"the working tree is not clean ({len(dirty)} path(s): {shown})",
                hint="commit or stash your changes; deploy pushes committed releases only",
            )
    return release
